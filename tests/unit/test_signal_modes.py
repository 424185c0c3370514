"""Signal modes: rolling-OLS fixed units and literature Kalman units, as operators and in a backtest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings as hsettings, strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from app.backtest.metrics import literature_from_curves
from app.backtest.modes import strategy_factory
from app.backtest.run import run_backtest
from operators.check import check_operator
from operators.kalman_units import KalmanUnitsPair
from operators.rolling_ols import RollingOlsPair, ols_z, window_fits
from pairflow.config import Settings
from sources.replay import HOUR_MS, load_files, replay

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
GOLDEN = [FIXTURES.parent / "backtest" / "perp_1h_ohlcv_2024-11_two_weeks.csv",
          FIXTURES.parent / "backtest" / "perp_funding_1h_2024-11_two_weeks.csv"]


def _events():
    recording = load_files(GOLDEN[:1], ["ETH", "SOL"])
    return [event for _, events in replay(recording) for event in events][:240]


def test_both_modes_pass_the_operator_conformance_battery() -> None:
    check_operator(RollingOlsPair(("ETH", "SOL"), interval_ms=HOUR_MS, window=24, entry=1.5, exit_=0.3, stop=9.0,
                                  units=2.0), _events())
    check_operator(KalmanUnitsPair(("ETH", "SOL"), interval_ms=HOUR_MS, delta=1e-4, ve=1e-3, k=1.0, k_exit=0.0,
                                   units=1.0), _events())


def test_ols_matches_the_closed_form_on_an_exact_line() -> None:
    b, residual, z = ols_z([2.0 * x + 1.0 for x in range(10)], [float(x) for x in range(10)])
    assert b == pytest.approx(2.0) and residual == pytest.approx(0.0, abs=1e-12) and z == 0.0


PRICES = st.one_of(st.floats(1e-3, 1e6), st.sampled_from([0.5, 1.0, 2500.0]))


@hsettings(max_examples=200, deadline=None)
@given(ys=st.lists(PRICES, min_size=2, max_size=80), xs=st.lists(PRICES, min_size=2, max_size=80),
       window=st.integers(2, 60))
@example(ys=[1.0, 2.0, 3.0, 5.0], xs=[2.0, 2.0, 2.0, 2.0], window=3)
@example(ys=[7.0, 7.0, 7.0], xs=[1.0, 2.0, 3.0], window=3)
def test_one_windows_fit_has_the_bits_of_every_windows_at_once(ys: list[float], xs: list[float], window: int) -> None:
    """The replay fits each bar's window alone (ols_z), the vectorised backtest every window at once
    (window_fits over the sliding windows): any bit apart and a z on a band could decide differently."""
    rows = min(len(ys), len(xs))
    window = min(window, rows)
    y, x = np.array(ys[:rows]), np.array(xs[:rows])
    b, residual, z = window_fits(sliding_window_view(y, window), sliding_window_view(x, window))
    for at in range(rows - window + 1):
        assert ols_z(ys[at:at + window], xs[at:at + window]) == (b[at], residual[at], z[at])


def _settings() -> Settings:
    settings = Settings()
    settings.strategy.bar_interval = "1h"
    settings.strategy.entry_z, settings.strategy.exit_z = 1.5, 0.3
    # The desk's own stops would add trades the rule did not ask for.
    settings.execution.time_stop_ms = settings.execution.spread_stop_loss = settings.execution.daily_drawdown = 0
    return settings


def test_rolling_ols_trades_fixed_units_at_the_signal_bar_close() -> None:
    recording = load_files(GOLDEN, ["ETH", "SOL"])
    closes = {(bar.coin, bar.ts + HOUR_MS): bar.close for series in recording.bars.values() for bar in series}
    result = run_backtest(_settings(), recording, [("ETH", "SOL")], taker_fee=0.0,
                          strategy_factory=strategy_factory("rolling-ols", units=1.0, window=24))
    entries = [s for s in result.signals if s.reason.startswith("entry")]
    assert entries, "the rule should trade on two weeks of ETH/SOL"
    for signal in entries:
        eth, sol = signal.leg_targets
        assert abs(eth) == 1.0 and sol == -signal.target * round(signal.hedge_ratio)
    for fill in result.fills:
        assert fill.px == closes[(fill.coin, fill.ts)]
    assert {f.ts for f in result.fills} <= {s.ts for s in result.signals}


def test_literature_kalman_reports_apr_and_sharpe_on_gross_value_without_costs() -> None:
    recording = load_files(GOLDEN[:1], ["ETH", "SOL"])
    settings = _settings()
    settings.strategy.kalman_delta, settings.strategy.kalman_observation_variance = 1e-4, 1e-3
    settings.strategy.entry_z, settings.strategy.exit_z = 1.0, 0.0
    result = run_backtest(settings, recording, [("ETH", "SOL")], taker_fee=0.0,
                          strategy_factory=strategy_factory("kalman-units", units=1.0))
    assert result.fills and all(payment.usdc == 0.0 for payment in result.funding)
    assert result.metrics is not None and result.metrics.fees == 0.0
    apr, sharpe = literature_from_curves(result.curve, result.gross)
    assert apr > -1.0 and sharpe is not None
