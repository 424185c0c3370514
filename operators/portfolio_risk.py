"""Portfolio risk: historical, parametric and EWMA VaR and Expected Shortfall, exposure and leverage.

VaR and ES are reported as positive losses in USDC over a horizon of
``horizon`` bars. The P&L sample is the *current* positions revalued over
each past bar's returns (historical simulation), so a position opened a
minute ago is judged on the whole window. Parametric uses the sample's mean
and standard deviation under a normal law; EWMA (RiskMetrics, lambda 0.94)
weighs recent bars more and assumes a zero mean. Horizons scale by sqrt(h)
(mean by h).
"""

from __future__ import annotations

import math
import pickle
from collections import deque
from collections.abc import Sequence
from itertools import islice
from statistics import NormalDist

from pairflow.events import Bar, Pnl, Position, RiskMetric

__all__ = ["PortfolioRisk", "ewma_var_es", "historical_var_es", "parametric_var_es"]

_NORMAL = NormalDist()


def historical_var_es(pnl: Sequence[float], confidence: float, horizon: int = 1) -> tuple[float, float]:
    """Return (VaR, ES) as the empirical loss quantile and the mean loss beyond it.

    The quantile is the order statistic ``ceil(n * (1 - confidence))`` from the
    worst, so it is always an observed loss.

    Examples
    --------
    >>> historical_var_es([-5.0, -3.0, -1.0, 0.0, 2.0] * 4, 0.9)
    (5.0, 5.0)
    """
    return _tail_var_es(sorted(pnl), confidence, horizon)


def _tail_var_es(ordered: Sequence[float], confidence: float, horizon: int) -> tuple[float, float]:
    tail = max(1, math.ceil(len(ordered) * (1.0 - confidence) - 1e-9))
    scale = math.sqrt(horizon)
    return -ordered[tail - 1] * scale, -sum(ordered[:tail]) / tail * scale


def parametric_var_es(mean: float, std: float, confidence: float, horizon: int = 1) -> tuple[float, float]:
    """Return (VaR, ES) of a normal P&L with ``mean`` and ``std`` per bar over ``horizon`` bars.

    Examples
    --------
    >>> [round(x, 4) for x in parametric_var_es(0.0, 1.0, 0.99)]
    [2.3263, 2.6652]
    """
    z = _NORMAL.inv_cdf(confidence)
    mu, sigma = mean * horizon, std * math.sqrt(horizon)
    return sigma * z - mu, sigma * _NORMAL.pdf(z) / (1.0 - confidence) - mu


def ewma_var_es(pnl: Sequence[float], confidence: float, horizon: int = 1, decay: float = 0.94) -> tuple[float, float]:
    """Return (VaR, ES) under a zero-mean normal with the EWMA variance of ``pnl``.

    Examples
    --------
    >>> [round(x, 3) for x in ewma_var_es([1.0, -1.0] * 50, 0.95)]
    [1.645, 2.063]
    """
    return parametric_var_es(0.0, _ewma_std(pnl, decay), confidence, horizon)


def _ewma_std(pnl: Sequence[float], decay: float = 0.94) -> float:
    variance = pnl[0] ** 2
    for value in pnl[1:]:
        variance = decay * variance + (1.0 - decay) * value * value
    return math.sqrt(variance)


class PortfolioRisk:
    """Fold bars, positions and portfolio PnL into `RiskMetric` rows once per new bar time (or ``every_ms``).

    With ``at_change``, a change of what is held makes the next new bar time emit at once, not up
    to ``every_ms`` later: VaR and ES of a position just opened are known from its first bar, not
    from the next row of the schedule (a minute, on a desk), which a short hold may never reach.

    Each coin's bar returns are kept beside its closes, computed once when the bar arrives, so the
    revalued sample costs one multiply-add per bar and held coin (a backtest asks for it every bar).

    Examples
    --------
    >>> risk = PortfolioRisk(capital=1_000.0, window=50, confidences=(0.95,))
    >>> _ = risk.update(Position(ts=0, id="p", coin="ETH", szi=1.0, entry_px=100.0, mark_px=100.0,
    ...                          unrealized_pnl=0.0, margin_used=0.0, leverage=1.0))
    >>> out = []
    >>> for i in range(40):
    ...     out = risk.update(Bar(ts=i * 60_000, id=str(i), coin="ETH", interval="1m", open=100.0, high=101.0,
    ...         low=99.0, close=100.0 + (i % 2), volume=1.0, notional=100.0, vwap=100.0, trades=1,
    ...         buy_volume=0.5, sell_volume=0.5))
    >>> {m.metric: round(m.value, 3) for m in out if m.metric in ("var_hist", "exposure_gross", "leverage")}
    {'exposure_gross': 101.0, 'leverage': 0.101, 'var_hist': 1.0}
    """

    def __init__(self, capital: float = 10_000.0, window: int = 500, horizon: int = 1,
                 confidences: tuple[float, ...] = (0.95, 0.99), interval_label: str = "1m", every_ms: int = 0,
                 at_change: bool = True) -> None:
        self.capital = capital
        self.window = window
        self.horizon = horizon
        self.confidences = confidences
        self.interval_label = interval_label
        self.every_ms = every_ms
        self.at_change = at_change
        self._due = False
        self.closes: dict[str, deque[tuple[int, float]]] = {}
        self.returns: dict[str, deque[float]] = {}
        self.positions: dict[str, float] = {}
        self.equity = 0.0
        self._last_ts: int | None = None

    def hold(self, positions: dict[str, float]) -> None:
        """Take the size held per coin; with ``at_change``, a change makes the next new bar time emit its metrics."""
        if self.at_change and {coin: size for coin, size in positions.items() if size} != {
                coin: size for coin, size in self.positions.items() if size}:
            self._due = True
        self.positions = positions

    def update(self, event: Bar | Position | Pnl) -> list[RiskMetric]:
        """Apply one event; return the metrics when a bar opens a new time step (see the class docstring)."""
        if isinstance(event, Position):
            self.hold({**self.positions, event.coin: event.szi})
            return []
        if isinstance(event, Pnl):
            if event.scope == "portfolio":
                self.equity = event.equity
            return []
        history = self.closes.setdefault(event.coin, deque(maxlen=self.window + 1))
        returns = self.returns.setdefault(event.coin, deque(maxlen=self.window))
        if history and history[-1][0] == event.ts:
            history[-1] = (event.ts, event.close)
            if returns:
                returns[-1] = event.close / history[-2][1] - 1.0
        else:
            if history:
                returns.append(event.close / history[-1][1] - 1.0)
            history.append((event.ts, event.close))
        last = self._last_ts
        if last is not None and (event.ts <= last or (event.ts < last + self.every_ms and not self._due)):
            return []
        self._last_ts = event.ts
        self._due = False
        return self._metrics(event.ts)

    def _pnl_sample(self) -> list[float]:
        held = [coin for coin, size in self.positions.items() if size and len(self.closes.get(coin, ())) > 1]
        if not held:
            return []
        length = min(len(self.returns[coin]) for coin in held)
        sample = [0.0] * length
        for coin in held:
            value = self.positions[coin] * self.closes[coin][-1][1]
            returns = self.returns[coin]
            sample = [total + value * change for total, change in zip(sample, islice(returns, len(returns) - length, None))]
        return sample

    def _metrics(self, ts: int) -> list[RiskMetric]:
        marks = {coin: history[-1][1] for coin, history in self.closes.items() if history}
        exposure = {coin: size * marks[coin] for coin, size in self.positions.items() if coin in marks}
        gross = sum(abs(v) for v in exposure.values())
        equity = self.capital + self.equity
        rows = [("exposure_gross", gross, None), ("exposure_net", sum(exposure.values()), None),
                ("leverage", gross / equity if equity > 0 else math.inf, None)]
        sample = self._pnl_sample()
        if len(sample) >= 20:
            mean = sum(sample) / len(sample)
            std = math.sqrt(sum((x - mean) ** 2 for x in sample) / (len(sample) - 1))
            ordered, ewma_std = sorted(sample), _ewma_std(sample)
            for confidence in self.confidences:
                for name, (var, es) in (
                    ("hist", _tail_var_es(ordered, confidence, self.horizon)),
                    ("param", parametric_var_es(mean, std, confidence, self.horizon)),
                    ("ewma", parametric_var_es(0.0, ewma_std, confidence, self.horizon)),
                ):
                    rows += [(f"var_{name}", var, confidence), (f"es_{name}", es, confidence)]
        horizon = f"{self.horizon}x{self.interval_label}"
        return [RiskMetric(ts=ts, id=f"{metric}:{confidence or ''}@{ts}", metric=metric, value=value,
                           confidence=confidence, horizon=horizon) for metric, value, confidence in rows]

    def snapshot(self) -> bytes:
        """Return the configuration, price windows, positions and equity as pickled bytes."""
        return pickle.dumps(self.__dict__)

    @classmethod
    def restore(cls, state: bytes) -> PortfolioRisk:
        """Rebuild from `snapshot` output."""
        risk = cls.__new__(cls)
        # A snapshot from before ``at_change`` existed: the desk's default then.
        risk.__dict__.update({"at_change": True, "_due": False, **pickle.loads(state)})
        return risk
