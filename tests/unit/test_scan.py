"""Pair scan: the statistics equal statsmodels, planted groups are found, random walks stay within the FDR."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.tsa.stattools import coint
from statsmodels.tsa.vector_ar.vecm import coint_johansen

from operators.cointegration import engle_granger, johansen
from operators.multiple_testing import benjamini_hochberg
from operators.scan import Panel, ScanConfig, build_panel, scan
from venue.market.factor_model import CointegrationGroup, FactorModel, FactorModelConfig

COINS = "BTC ETH SOL DOGE AVAX LINK XRP BNB LTC ARB SUI ADA DOT NEAR APT AAVE UNI TRX".split()
GROUPS = (CointegrationGroup(("ETH", "SOL", "AVAX"), (1.0, 1.3, 1.5)),
          CointegrationGroup(("AAVE", "UNI", "LINK"), (1.0, 1.2, 0.9)))


def synthetic_panel(seed: int, bars: int = 2_000) -> Panel:
    """One-minute fair values of the venue's factor model: two planted groups, twelve loners."""
    model = FactorModel(FactorModelConfig({coin: 100.0 for coin in COINS}, groups=GROUPS), seed=seed)
    closes = np.array([list(model.step(60_000).values()) for _ in range(bars)])
    return Panel(COINS, np.arange(bars) * 60_000, closes, {coin: 1.0 for coin in COINS})


def test_engle_granger_and_johansen_equal_statsmodels() -> None:
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.standard_normal(700))
    y = 0.7 * x + rng.standard_normal(700)
    z = np.cumsum(rng.standard_normal(700))
    ours = engle_granger(y, x, max_lag=3)
    statistic, pvalue, critical = coint(y, x, trend="c", maxlag=3, autolag="aic")
    assert (ours.statistic, ours.pvalue, ours.critical_values) == (statistic, pvalue, tuple(critical))
    levels = np.column_stack([y, x, z])
    result, reference = johansen(levels), coint_johansen(levels, 0, 1)
    assert result.trace == tuple(reference.lr1) and result.max_eigen == tuple(reference.lr2)
    assert result.trace_critical == tuple(map(tuple, reference.cvt))
    assert result.max_eigen_critical == tuple(map(tuple, reference.cvm))
    np.testing.assert_allclose(result.weights, reference.evec[:, 0] / reference.evec[0, 0], rtol=1e-12)
    assert result.rank == int(np.sum(reference.lr1 > reference.cvt[:, 1]))


def test_benjamini_hochberg_equals_statsmodels() -> None:
    pvalues = np.random.default_rng(4).uniform(size=50) ** 3
    expected = multipletests(pvalues, alpha=0.05, method="fdr_bh")[1]
    np.testing.assert_allclose(benjamini_hochberg(pvalues), expected, rtol=1e-12)
    with pytest.raises(ValueError):
        benjamini_hochberg([0.5, float("nan")])


def test_planted_groups_are_found_and_independent_coins_rejected() -> None:
    result = scan(synthetic_panel(seed=2))
    planted = {frozenset(pair) for group in GROUPS for pair in itertools.combinations(group.coins, 2)}
    accepted_pairs = {frozenset(s.coins) for s in result.accepted if s.kind == "pair"}
    assert accepted_pairs == planted
    assert {frozenset(s.coins) for s in result.accepted if s.kind == "basket"} == {frozenset(g.coins) for g in GROUPS}
    for spread in result.accepted:
        assert 10 < spread.half_life < 60  # planted half-life: 1800 s = 30 one-minute bars
        assert spread.hurst < 0.5 and spread.qvalue is None or spread.qvalue <= 0.05
    loners = set(COINS) - {coin for group in GROUPS for coin in group.coins}
    assert not any(loners & set(s.coins) for s in result.accepted)
    ethsol = next(s for s in result.accepted if set(s.coins) == {"ETH", "SOL"})
    expected_ratio = 1.3 if ethsol.coins[0] == "SOL" else 1 / 1.3
    # OLS on a noisy regressor is biased towards 0 (errors in variables), hence the loose bound.
    assert ethsol.hedge_ratio == pytest.approx(expected_ratio, rel=0.2)
    assert [s.rank for s in result.spreads] == list(range(1, len(result.spreads) + 1))
    assert all(s.reason for s in result.spreads if not s.accepted)


def test_optics_route_also_finds_the_planted_groups() -> None:
    result = scan(synthetic_panel(seed=2), ScanConfig(cluster="optics"))
    assert {frozenset(g.coins) for g in GROUPS} <= {frozenset(s.coins) for s in result.accepted}


def test_independent_random_walks_stay_within_the_fdr_level() -> None:
    fdr, runs, coins, tests, accepted, runs_with_any = 0.05, 20, 8, 0, 0, 0
    names = [f"C{i}" for i in range(coins)]
    for seed in range(runs):
        walks = np.cumsum(np.random.default_rng(100 + seed).standard_normal((400, coins)) * 0.01, axis=0)
        result = scan(Panel(names, np.arange(400), np.exp(walks), dict.fromkeys(names, 1.0)),
                      ScanConfig(cluster="none", fdr=fdr))
        tests += result.tests
        accepted += len(result.accepted)
        runs_with_any += bool(result.accepted)
    assert tests == runs * coins * (coins - 1)  # both Engle-Granger directions of every pair
    # Under the global null BH bounds P(any acceptance) by the FDR level.
    assert runs_with_any / runs <= fdr + 0.1
    assert accepted / (tests / 2) <= fdr


def test_liquidity_filter_and_coverage_exclude_coins_with_a_reason() -> None:
    rows = [(coin, ts, 100.0 + (ts * (i + 2)) % 7, volume) for i, (coin, volume) in enumerate([("A", 5.0), ("B", 0.01), ("C", 5.0)])
            for ts in range(60)]
    rows += [("D", 0, 1.0, 1.0)]
    panel = build_panel(rows)
    assert panel.excluded == {"D": "bars at 2% of times, below 90%"}
    result = scan(panel, ScanConfig(min_volume=100.0, min_observations=10))
    assert result.coins == ["A", "C"] and result.excluded["B"].startswith("median notional 1.0")
    rows += [("E", ts, 1.0, 1e6) for ts in range(60)]  # a pegged coin: no returns to correlate
    result = scan(build_panel(rows), ScanConfig(min_volume=100.0, min_observations=10))
    assert result.excluded["E"] == "price did not move in the window" and "E" not in result.coins
