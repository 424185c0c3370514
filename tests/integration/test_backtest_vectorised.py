"""pairflow backtest --vectorised: the replay's result from arrays, checked against the replay itself.

Both paths run on the golden data and on random bars (Hypothesis): fills, funding payments, signals,
the trades hash, the equity and gross curves and the ids linking orders to spreads must be equal;
round-trip PnL, per-spread figures and metrics to 1e-9 (the replay's PnL ledger averages entry prices,
the vectorised books sum cash flows: the same money, rounded in another order).
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, reject, settings as hsettings, strategies as st

from app.backtest.modes import strategy_factory
from app.backtest.run import BacktestResult, run_backtest
from app.backtest.vectorised import LIMITS, _orders_pass, _Venue, check, run_vectorised
from app.commands.backtest import BacktestSpec, run_and_store
from pairflow.config import Settings
from pairflow.errors import ConfigError
from pairflow.events import Candle, Funding
from pairflow.storage import Store
from sources.replay import HOUR_MS, Recording, bar_of, check_recording, load_files
from tests.integration.test_backtest import GOLDEN

FEE = 0.00045


def _settings(interval: str = "1h", **strategy: float) -> Settings:
    """Settings the vectorised path accepts: every execution limit off."""
    settings = Settings()
    settings.strategy.bar_interval = interval
    for name, value in strategy.items():
        setattr(settings.strategy, name, value)
    for name in LIMITS:
        setattr(settings.execution, name, 0)
    return settings


def _both(settings: Settings, recording: Recording, spreads: list[tuple[str, str]], *, taker_fee: float,
          window: int, units: float) -> tuple[BacktestResult, BacktestResult]:
    replay = run_backtest(settings, recording, spreads, taker_fee=taker_fee,
                          strategy_factory=strategy_factory("rolling-ols", units=units, window=window))
    return replay, run_vectorised(settings, recording, spreads, taker_fee=taker_fee, window=window, units=units)


def _close(a: float | None, b: float | None) -> bool:
    return a == b or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9))


def assert_same(replay: BacktestResult, fast: BacktestResult) -> None:
    """Assert the two runs are the same backtest (see the module docstring)."""
    def fill(f):  # everything but the wall-clock receive time
        return (f.ts, f.id, f.coin, f.oid, f.cloid, f.px, f.sz, f.side, f.fee, f.closed_pnl, f.crossed,
                f.start_position)

    assert [fill(f) for f in fast.fills] == [fill(f) for f in replay.fills]
    assert [(p.ts, p.id, p.coin, p.usdc, p.szi, p.rate) for p in fast.funding] == \
        [(p.ts, p.id, p.coin, p.usdc, p.szi, p.rate) for p in replay.funding]
    assert fast.signals == replay.signals
    assert fast.trades_hash == replay.trades_hash
    assert fast.curve == replay.curve and fast.gross == replay.gross
    assert fast.pair_of == replay.pair_of
    assert [(t.pair, t.opened_ms, t.closed_ms) for t in fast.round_trips] == \
        [(t.pair, t.opened_ms, t.closed_ms) for t in replay.round_trips]
    assert all(_close(a.pnl, b.pnl) for a, b in zip(fast.round_trips, replay.round_trips))
    assert fast.per_spread.keys() == replay.per_spread.keys()
    for pair, figures in replay.per_spread.items():
        assert all(_close(fast.per_spread[pair][name], value) for name, value in figures.items()), pair
    assert fast.metrics is not None and replay.metrics is not None
    for name, value in replay.metrics.as_dict().items():
        assert _close(fast.metrics.as_dict()[name], value), name


@pytest.mark.parametrize(("legs", "units"), [(("ETH", "SOL"), 1.0), (("BTC", "SOL"), 0.1)])
def test_golden_data_gives_the_replays_trades_funding_and_figures(legs: tuple[str, str], units: float) -> None:
    recording = load_files(GOLDEN, list(legs))
    replay, fast = _both(_settings(), recording, [legs], taker_fee=FEE, window=24, units=units)
    assert len(replay.fills) > 10 and replay.funding and len(replay.round_trips) > 3
    assert_same(replay, fast)


def _bars(coin: str, interval: str, closes: dict[int, float]) -> list:
    """Bars of ``coin`` opening at each time of ``closes`` (ms), open = previous close."""
    step = {"1h": HOUR_MS, "15m": HOUR_MS // 4}[interval]
    out, previous = [], None
    for ts, close in sorted(closes.items()):
        opened = previous if previous is not None else close
        out.append(bar_of(Candle(ts=ts, recv_ts=ts, id=f"{coin}:{ts}", coin=coin, interval=interval,
                                 close_ts=ts + step - 1, open=opened, high=max(opened, close),
                                 low=min(opened, close), close=close, volume=1.0, trades=1)))
        previous = close
    return out


def test_two_spreads_without_a_shared_coin_interleave_as_in_the_replay() -> None:
    recording = load_files(GOLDEN, ["BTC", "ETH", "SOL"])
    # AVAX: SOL's bars scaled and bent, a fourth coin so that BTC/AVAX and ETH/SOL share none
    recording.bars["AVAX"] = _bars("AVAX", "1h", {bar.ts: round(bar.close / 7 + (i % 5) * 0.03, 3)
                                                  for i, bar in enumerate(recording.bars["SOL"])})
    recording.funding += [Funding(ts=f.ts, recv_ts=f.ts, id=f"AVAX{f.ts}", coin="AVAX", rate=-f.rate)
                          for f in recording.funding if f.coin == "SOL"]
    recording.funding.sort(key=lambda f: (f.ts, f.coin))
    replay, fast = _both(_settings(), recording, [("ETH", "SOL"), ("BTC", "AVAX")], taker_fee=FEE, window=24,
                         units=0.05)
    assert {fill.coin for fill in replay.fills} == {"BTC", "ETH", "SOL", "AVAX"}
    assert_same(replay, fast)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    interval=st.sampled_from(["1h", "15m"]),
    steps=st.lists(st.floats(-0.02, 0.02), min_size=12, max_size=70),
    noise=st.lists(st.floats(-0.01, 0.01), min_size=70, max_size=70),
    holes=st.sets(st.integers(0, 69), max_size=4),
    rates=st.lists(st.one_of(st.none(), st.floats(-1e-4, 1e-4)), min_size=20, max_size=20),
    funding_offset=st.sampled_from([0, 68]),
    oracles=st.dictionaries(st.tuples(st.integers(0, 19), st.sampled_from([-HOUR_MS // 2, -1, 0, 1])),
                            st.floats(0.8, 1.2), max_size=6),
    window=st.integers(2, 10),
    bands=st.tuples(st.floats(0.3, 2.5), st.floats(0.0, 0.9), st.floats(0.3, 4.0)),
    units=st.sampled_from([0.003, 0.05, 1.0, 3.0]),
    taker_fee=st.sampled_from([0.0, FEE, 0.001]),
    on_grid=st.booleans(),
)
def test_random_bars_give_the_replays_result(interval, steps, noise, holes, rates, funding_offset, oracles, window,
                                             bands, units, taker_fee, on_grid) -> None:
    """Random ETH/SOL bars (holes in SOL, off-grid prices, hours without funding, funding stamped on the
    hour or 68 ms after it, ETH's oracle recorded now and then, also just before, at and just after an
    hour, SOL's never), windows, bands, sizes and fees: both paths give the same backtest."""
    step = {"1h": HOUR_MS, "15m": HOUR_MS // 4}[interval]
    start = 1_730_000_000_000 // HOUR_MS * HOUR_MS
    eth, sol = {}, {}
    price = 2500.0
    for i, change in enumerate(steps):
        price *= 1 + change
        hedge = price / 17 * (1 + noise[i])
        eth[start + i * step] = round(price, 1) if on_grid else price
        if i not in holes:
            sol[start + i * step] = round(hedge, 2) if on_grid else hedge
    recording = Recording(interval, step, {"ETH": _bars("ETH", interval, eth), "SOL": _bars("SOL", interval, sol)})
    hours = range(start // HOUR_MS, (start + len(steps) * step) // HOUR_MS + 1)
    recording.funding = sorted((Funding(ts=hour * HOUR_MS + funding_offset, recv_ts=0, id=f"{coin}{hour}", coin=coin,
                                        rate=rate if coin == "ETH" else -rate / 2)
                                for hour, rate in zip(hours, rates) if rate is not None for coin in ("ETH", "SOL")),
                               key=lambda f: (f.ts, f.coin))
    recording.oracles = {"ETH": sorted(((start // HOUR_MS + hour + 1) * HOUR_MS + offset, 2500.0 * factor)
                                        for (hour, offset), factor in oracles.items())}
    recording.problems = check_recording(recording, ["ETH", "SOL"])
    entry, exit_share, stop_gap = bands
    settings = _settings(interval, entry_z=entry, exit_z=entry * exit_share, stop_z=entry + stop_gap)
    try:
        replay, fast = _both(settings, recording, [("ETH", "SOL")], taker_fee=taker_fee, window=window, units=units)
    except ConfigError:  # an order at the exchange's minimum only at its fill price: refused by the fast path
        reject()
    assert_same(replay, fast)


@pytest.mark.parametrize(("options", "named"), [
    ({"mode": "spread"}, "--mode rolling-ols only"),
    ({"fill": "next_open"}, "--fill next_open"),
    ({"latency_ms": 200}, "--latency-ms"),
    ({"taker_fee": None}, "--taker-fee"),
    ({"order_type": "auto"}, "execution.order_type"),
    ({"max_order_notional": 5000.0}, "execution.max_order_notional"),
    ({"time_stop_ms": 3_600_000}, "execution.time_stop_ms"),
    ({"spreads": [("ETH", "SOL"), ("BTC", "ETH")]}, "ETH is in ETH/SOL and BTC/ETH"),
])
def test_what_the_vectorised_path_cannot_reproduce_is_refused_naming_the_option(options: dict, named: str) -> None:
    settings = _settings()
    for name in ("order_type", "max_order_notional", "time_stop_ms"):
        if name in options:
            setattr(settings.execution, name, options[name])
    with pytest.raises(ConfigError, match="--vectorised") as refused:
        check(settings, options.get("spreads", [("ETH", "SOL")]), mode=options.get("mode", "rolling-ols"),
              fill=options.get("fill", "close"), latency_ms=options.get("latency_ms", 0),
              taker_fee=options.get("taker_fee", FEE))
    assert named in str(refused.value) and "\n" not in str(refused.value)


def test_the_stored_run_is_the_replays(store: Store) -> None:
    """Stored through run_and_store as `pairflow backtest` does: the same trade rows and figures either way."""
    settings = _settings(**{"zscore_window": 24})
    rows = []
    for vectorised in (False, True):
        spec = BacktestSpec.checked(settings, spreads="ETH/SOL", sources=[str(path) for path in GOLDEN], start=None,
                                    end=None, mode="rolling-ols", taker_fee=FEE, vectorised=vectorised)
        rid = run_and_store(settings, store, spec).run_id
        run = store.query("SELECT trades_hash, trades, total_pnl, fees, funding, sharpe FROM backtest_runs "
                          "WHERE id = %(id)s", {"id": rid})
        trades = store.query("SELECT ts, replaceOne(id, concat(run_id, ':'), ''), coin, side, px, sz, fee, funding, "
                             "kind, pair FROM backtest_trades WHERE run_id = %(id)s ORDER BY ts, kind, coin",
                             {"id": rid})
        rows.append((run, trades))
    assert rows[0][1] and rows[1] == rows[0]


def test_the_command_line_refuses_in_one_line() -> None:
    done = subprocess.run([sys.executable, "-m", "app", "backtest", "--spreads", "ETH/SOL", "--vectorised",
                           "--mode", "rolling-ols", "--fill", "next_open", "--no-save", "--data", str(GOLDEN[0])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --vectorised fills at the bar close only: drop --fill next_open or --vectorised"]


def test_positions_beyond_the_capital_stop_the_run_in_one_line() -> None:
    """Margin is the replay's alone: gross positions over execution.capital_usd at any step stop the run."""
    settings = _settings()
    settings.execution.capital_usd = 1_000.0
    with pytest.raises(ConfigError, match="over execution.capital_usd 1,000") as refused:
        run_vectorised(settings, load_files(GOLDEN, ["ETH", "SOL"]), [("ETH", "SOL")], taker_fee=FEE, window=24,
                       units=1.0)
    assert "drop --vectorised" in str(refused.value) and "\n" not in str(refused.value)


def test_a_leg_under_the_minimum_only_at_its_quote_stops_the_run() -> None:
    """A leg worth $10 at the close but under it at the quote on the grid: the exchange refuses that quote,
    which only the replay models, so the vectorised path says so instead of guessing."""
    venue = _Venue(["ETH", "SOL"], FEE)
    assert 0.0041 * 2439.04 >= 10 > 0.0041 * venue.rules.price("ETH", 2439.04)
    with pytest.raises(ConfigError, match=r"under the exchange's \$10 minimum at the fill price"):
        _orders_pass(venue, [("ETH", 0.0041, False, "cloid")], {"ETH": 2439.04}, 0.003, 0.05)
