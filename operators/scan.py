"""Pair and basket discovery over a panel of log prices (batch).

Steps, each narrowing what the next one sees:

1. liquidity: coins whose median traded notional per bar is below
   ``min_volume``, or whose price never moved, are left out (with the reason);
2. clustering of log-return correlations (`operators.clustering`) limits the
   candidate pairs to coins of one cluster (``cluster="none"``: every pair);
3. each candidate pair gets Engle-Granger in both directions and Johansen on
   the pair; every Engle-Granger test made enters one Benjamini-Hochberg family,
   and a pair's q-value is the smaller of its two directions'. Johansen has
   tabulated critical values, not p-values, so it confirms (trace statistic
   above its 95 % value) but does not enter the family;
4. dendrogram or OPTICS groups of 3+ coins get Johansen; the first
   eigenvector gives basket weights; a basket needs the 99 % trace value,
   the stricter bar standing in for the missing multiple-testing control;
5. on the spread of each candidate: half-life (AR(1)), Hurst exponent
   (variogram estimator) and mean crossings, each with a bound to pass.

The spread of a pair is ``log a - hedge_ratio * log b - intercept`` with ``a``
the dependent leg of the better Engle-Granger direction; in general it is
``sum(weights * log prices)`` (minus ``intercept``), ``weights[0] = 1``.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
from msgspec.structs import replace

from operators.clustering import hierarchical_clusters, optics_clusters, return_correlation
from operators.cointegration import EngleGranger, engle_granger, johansen
from operators.crossings import mean_crossings
from operators.half_life import half_life
from operators.hurst import hurst_exponent
from operators.multiple_testing import benjamini_hochberg
from pairflow.events import PairStats

__all__ = ["Panel", "ScanConfig", "ScanResult", "build_panel", "scan"]


@dataclass(frozen=True)
class ScanConfig:
    """Thresholds of a scan; stored with every result so a scan can be explained later."""

    fdr: float = 0.05
    min_volume: float = 0.0
    cluster: Literal["hierarchical", "optics", "none"] = "hierarchical"
    max_distance: float = 0.6
    max_basket: int = 4
    components: int = 5
    adf_max_lag: int = 2
    min_half_life: float = 1.0
    max_half_life: float | None = None
    max_hurst: float = 0.5
    hurst_max_lag: int = 20
    min_crossings: int = 10
    min_observations: int = 50

    def __post_init__(self) -> None:
        if not 0.0 < self.fdr < 1.0:
            raise ValueError(f"fdr must be in (0, 1), received {self.fdr}")
        if self.cluster not in ("hierarchical", "optics", "none"):
            raise ValueError(f"cluster must be hierarchical, optics or none, received {self.cluster!r}")
        if not 3 <= self.max_basket <= 12:
            raise ValueError(f"max_basket must be 3..12 (Johansen's tables), received {self.max_basket}")

    def as_dict(self) -> dict[str, object]:
        """Return the parameters as a plain dict (for JSON)."""
        return asdict(self)


@dataclass
class Panel:
    """Aligned close prices: ``times`` (ms) x ``coins``, with median notional volume per bar."""

    coins: list[str]
    times: np.ndarray
    closes: np.ndarray
    median_notional: dict[str, float]
    excluded: dict[str, str] = field(default_factory=dict)


def build_panel(rows: Iterable[tuple[str, int, float, float]], min_coverage: float = 0.9) -> Panel:
    """Align ``(coin, ts, close, volume)`` rows on the times every kept coin has a bar.

    A coin with bars at fewer than ``min_coverage`` of all times is left out,
    so one late listing does not shorten everyone's history.

    Examples
    --------
    >>> rows = [("A", 1, 10.0, 2.0), ("A", 2, 11.0, 2.0), ("B", 1, 5.0, 1.0), ("B", 2, 6.0, 1.0), ("C", 2, 1.0, 1.0)]
    >>> panel = build_panel(rows, min_coverage=0.9)
    >>> panel.coins, panel.times.tolist(), panel.closes.tolist(), panel.excluded
    (['A', 'B'], [1, 2], [[10.0, 5.0], [11.0, 6.0]], {'C': 'bars at 50% of times, below 90%'})
    """
    by_coin: dict[str, dict[int, tuple[float, float]]] = {}
    for coin, ts, close, volume in rows:
        by_coin.setdefault(coin, {})[int(ts)] = (float(close), float(volume))
    all_times = sorted({ts for bars in by_coin.values() for ts in bars})
    excluded: dict[str, str] = {}
    kept = []
    for coin in sorted(by_coin):
        share = len(by_coin[coin]) / len(all_times)
        if share < min_coverage:
            excluded[coin] = f"bars at {share:.0%} of times, below {min_coverage:.0%}"
        else:
            kept.append(coin)
    common = [ts for ts in all_times if all(ts in by_coin[coin] for coin in kept)]
    closes = np.array([[by_coin[coin][ts][0] for coin in kept] for ts in common]).reshape(len(common), len(kept))
    median_notional = {
        coin: float(np.median([close * volume for close, volume in by_coin[coin].values()])) for coin in kept
    }
    return Panel(kept, np.array(common, dtype=np.int64), closes, median_notional, excluded)


@dataclass
class ScanResult:
    """What a scan saw and concluded.

    ``spreads`` are the very records ``pair_stats`` stores and ``pf.pair_stats``
    carries, one per candidate, best first; until recorded each has the
    spread's name as ``id`` and the window's last bar as ``ts``, and no scan id.
    """

    config: ScanConfig
    coins: list[str]
    times: np.ndarray
    correlation: np.ndarray
    linkage: np.ndarray | None
    clusters: dict[str, int]
    excluded: dict[str, str]
    spreads: list[PairStats]
    tests: int

    @property
    def accepted(self) -> list[PairStats]:
        """Return the accepted spreads, best first."""
        return [spread for spread in self.spreads if spread.accepted]


def scan(panel: Panel, config: ScanConfig = ScanConfig()) -> ScanResult:
    """Run the scan on ``panel``; see the module docstring for the steps.

    Examples
    --------
    >>> rng = np.random.default_rng(5)
    >>> common = np.cumsum(rng.standard_normal(600)) * 0.01
    >>> spread = np.zeros(600)
    >>> for t in range(1, 600):
    ...     spread[t] = 0.8 * spread[t - 1] + 0.005 * rng.standard_normal()
    >>> levels = np.column_stack([common + spread, common, np.cumsum(rng.standard_normal(600)) * 0.01])
    >>> panel = Panel(["A", "B", "C"], np.arange(600), np.exp(levels), {"A": 1.0, "B": 1.0, "C": 1.0})
    >>> result = scan(panel, ScanConfig(cluster="none"))
    >>> [(s.pair, s.accepted) for s in result.spreads]
    [('A/B', True), ('A/C', False), ('B/C', False)]
    """
    excluded = dict(panel.excluded)
    liquid = []
    for i, coin in enumerate(panel.coins):
        notional = panel.median_notional.get(coin, 0.0)
        if notional < config.min_volume:
            excluded[coin] = f"median notional {notional:.6g} per bar below {config.min_volume:g}"
        elif len(panel.closes) > 1 and np.ptp(panel.closes[:, i]) == 0.0:
            excluded[coin] = "price did not move in the window"
        else:
            liquid.append(i)
    coins = [panel.coins[i] for i in liquid]
    levels = np.log(panel.closes[:, liquid]) if liquid else np.empty((len(panel.times), 0))
    n_obs = levels.shape[0]
    if len(coins) < 2 or n_obs < config.min_observations:
        return ScanResult(config, coins, panel.times, np.eye(len(coins)), None, {}, excluded, [], 0)
    rho = return_correlation(levels)
    tree = None
    if config.cluster == "hierarchical":
        labels, tree, groups = hierarchical_clusters(rho, config.max_distance, config.max_basket)
    elif config.cluster == "optics":
        labels = optics_clusters(levels, config.components)
        groups = [tuple(np.flatnonzero(labels == label)) for label in sorted(set(labels) - {-1})]
        groups = [group for group in groups if 3 <= len(group) <= config.max_basket]
    else:
        labels, groups = np.zeros(len(coins), dtype=int), []
    window = _window(panel.times, config)
    pairs = [(i, j) for i, j in itertools.combinations(range(len(coins)), 2)
             if config.cluster == "none" or (labels[i] == labels[j] and labels[i] != -1)]
    tested = [_pair(levels, coins, i, j, rho, int(labels[i]), config, window) for i, j in pairs]
    pvalues = [p for spread, _ in tested for p in (spread.eg_pvalue, spread.eg_pvalue_reverse)]
    qvalues = benjamini_hochberg(pvalues) if pvalues else np.array([])
    spreads = [
        _orient(replace(spread, qvalue=float(qvalues[2 * index]), qvalue_reverse=float(qvalues[2 * index + 1])),
                levels, [i, j], reverse, config)
        for index, ((spread, reverse), (i, j)) in enumerate(zip(tested, pairs))
    ]
    spreads.extend(_basket(levels, coins, group, int(labels[group[0]]), rho, config, window) for group in groups)
    max_half_life = config.max_half_life if config.max_half_life is not None else n_obs / 4
    judged = []
    for spread in spreads:
        reason = _verdict(spread, config, max_half_life)
        judged.append(replace(spread, reason=reason, accepted=not reason))
    judged.sort(key=_ranking)
    ranked = [replace(spread, rank=rank) for rank, spread in enumerate(judged, 1)]
    clusters = {coin: int(label) for coin, label in zip(coins, labels)}
    return ScanResult(config, coins, panel.times, rho, tree, clusters, excluded, ranked, len(pvalues))


def _window(times: np.ndarray, config: ScanConfig) -> dict[str, object]:
    start, end = int(times[0]), int(times[-1])
    return {"ts": end, "recv_ts": end, "window_start": start, "window_end": end, "observations": len(times),
            "parameters": json.dumps(config.as_dict(), sort_keys=True)}


def _legs(coins: tuple[str, ...], weights: tuple[float, ...]) -> dict[str, object]:
    name = "/".join(coins)
    return {"id": name, "pair": name, "coin_a": coins[0], "coin_b": coins[1], "coins": coins, "weights": weights,
            "hedge_ratio": -weights[1]}


def _spread_series(levels: np.ndarray, columns: list[int], weights: tuple[float, ...], intercept: float) -> np.ndarray:
    return levels[:, columns] @ np.array(weights) - intercept


def _describe(spread: PairStats, series: np.ndarray, config: ScanConfig) -> PairStats:
    return replace(spread, half_life=half_life(series), hurst=hurst_exponent(series, config.hurst_max_lag),
                   crossings=mean_crossings(series))


def _pair(levels: np.ndarray, coins: list[str], i: int, j: int, rho: np.ndarray, cluster: int,
          config: ScanConfig, window: dict[str, object]) -> tuple[PairStats, EngleGranger]:
    forward = engle_granger(levels[:, i], levels[:, j], config.adf_max_lag)
    reverse = engle_granger(levels[:, j], levels[:, i], config.adf_max_lag)
    test = johansen(levels[:, [i, j]])
    spread = PairStats(
        **window, **_legs((coins[i], coins[j]), (1.0, -forward.hedge_ratio)), kind="pair",
        intercept=forward.intercept, correlation=float(rho[i, j]), cluster=cluster,
        eg_statistic=forward.statistic, eg_pvalue=forward.pvalue,
        eg_statistic_reverse=reverse.statistic, eg_pvalue_reverse=reverse.pvalue,
        johansen_trace=test.trace[0], johansen_trace_critical=test.trace_critical[0][1],
        johansen_max_eigen=test.max_eigen[0], johansen_max_eigen_critical=test.max_eigen_critical[0][1],
        johansen_rank=test.rank,
    )
    return spread, reverse


def _orient(spread: PairStats, levels: np.ndarray, columns: list[int], reverse: EngleGranger,
            config: ScanConfig) -> PairStats:
    """Report the Engle-Granger direction with the smaller q-value, then describe its spread."""
    if spread.qvalue_reverse is not None and spread.qvalue is not None and spread.qvalue_reverse < spread.qvalue:
        columns = columns[::-1]
        spread = replace(
            spread, **_legs(spread.coins[::-1], (1.0, -reverse.hedge_ratio)), intercept=reverse.intercept,
            eg_statistic=spread.eg_statistic_reverse, eg_statistic_reverse=spread.eg_statistic,
            eg_pvalue=spread.eg_pvalue_reverse, eg_pvalue_reverse=spread.eg_pvalue,
            qvalue=spread.qvalue_reverse, qvalue_reverse=spread.qvalue,
        )
    return _describe(spread, _spread_series(levels, columns, spread.weights, spread.intercept), config)


def _basket(levels: np.ndarray, coins: list[str], group: tuple[int, ...], cluster: int, rho: np.ndarray,
            config: ScanConfig, window: dict[str, object]) -> PairStats:
    columns = list(group)
    test = johansen(levels[:, columns])
    weights = test.weights
    intercept = float(np.mean(levels[:, columns] @ np.array(weights)))
    block = rho[np.ix_(columns, columns)]
    spread = PairStats(
        **window, **_legs(tuple(coins[c] for c in columns), weights), kind="basket", intercept=intercept,
        correlation=float(block[np.triu_indices(len(columns), 1)].mean()), cluster=cluster, eg_pvalue=None,
        johansen_trace=test.trace[0], johansen_trace_critical=test.trace_critical[0][2],
        johansen_max_eigen=test.max_eigen[0], johansen_max_eigen_critical=test.max_eigen_critical[0][2],
        johansen_rank=test.rank,
    )
    return _describe(spread, _spread_series(levels, columns, weights, intercept), config)


def _verdict(spread: PairStats, config: ScanConfig, max_half_life: float) -> str:
    q = spread.qvalue
    if q is not None and q > config.fdr:
        return f"Engle-Granger q-value {q:.3g} above FDR {config.fdr:g}"
    if spread.johansen_trace is not None and spread.johansen_trace <= (spread.johansen_trace_critical or math.inf):
        level = "95%" if spread.kind == "pair" else "99%"
        return f"Johansen trace {spread.johansen_trace:.3g} not above its {level} critical value {spread.johansen_trace_critical:.3g}"
    if spread.half_life is None:
        return "spread does not mean-revert (no AR(1) half-life)"
    if not config.min_half_life <= spread.half_life <= max_half_life:
        return f"half-life {spread.half_life:.3g} bars outside [{config.min_half_life:g}, {max_half_life:.3g}]"
    if spread.hurst is None or spread.hurst >= config.max_hurst:
        return f"Hurst exponent {spread.hurst if spread.hurst is None else round(spread.hurst, 3)} not below {config.max_hurst:g}"
    if spread.crossings is not None and spread.crossings < config.min_crossings:
        return f"{spread.crossings} mean crossings, fewer than {config.min_crossings}"
    return ""


def _ranking(spread: PairStats) -> tuple:
    q = spread.qvalue
    return (not spread.accepted, q if q is not None else 1.0, spread.half_life or math.inf)
