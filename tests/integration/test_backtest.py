"""pairflow backtest: golden run on committed data, hand-computed PnL/fees/funding, and no look-ahead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from app.backtest.run import run_backtest
from operators.orders import cloid_for
from operators.spread_strategy import pair_name
from pairflow.config import Settings, StorageSettings
from pairflow.events import AssetContext, Bar, Candle, Event, Funding, Signal
from pairflow.storage import BatchWriter, connect
from sources.replay import HOUR_MS, Recording, bar_of, load_files, load_store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
GOLDEN = [FIXTURES.parent / "backtest" / "perp_1h_ohlcv_2024-11_two_weeks.csv",
          FIXTURES.parent / "backtest" / "perp_funding_1h_2024-11_two_weeks.csv"]
SAMPLE = [FIXTURES / "perp_1h_ohlcv_2024-10_sample.csv", FIXTURES / "perp_funding_1h_2024-10_sample.csv"]
GOLDEN_HASH = "a808a7743abec20d9eece3434f3065e468f6b3f74876aec4fa0d79f149786544"
GOLDEN_STRATEGY = {"zscore_window": 48, "warmup_rows": 24, "entry_z": 2.0, "exit_z": 0.5}


def _settings(**strategy: object) -> Settings:
    settings = Settings()
    settings.strategy.bar_interval = "1h"
    settings.strategy.staleness_ms = 3 * HOUR_MS
    settings.strategy.max_gap_ms = 10 * HOUR_MS
    for name, value in {**GOLDEN_STRATEGY, **strategy}.items():
        setattr(settings.strategy, name, value)
    return settings


def test_golden_run_from_the_command_line_pins_the_trades_and_stores_the_run(tmp_path: Path) -> None:
    config = tmp_path / "pairflow.toml"
    config.write_text(f'[storage]\ndsn = "chdb://{tmp_path / "db"}"\n[strategy]\n'
                      + "".join(f"{name} = {value}\n" for name, value in GOLDEN_STRATEGY.items()))
    command = [sys.executable, "-m", "app", "backtest", "--config", str(config),
               "--spreads", "ETH/SOL,BTC/ETH,BTC/SOL", "--data", str(GOLDEN[0]), "--data", str(GOLDEN[1])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert GOLDEN_HASH[:16] in done.stdout
    assert "PnL attribution" in done.stdout and "ETH/SOL" in done.stdout
    store = connect(StorageSettings(dsn=f"chdb://{tmp_path / 'db'}"))
    try:
        ((run_id, trades_hash, commit, fills, start, end, fill_mode),) = store.query(
            "SELECT id, trades_hash, commit, trades, start_ts, end_ts, fill_mode FROM backtest_runs")
        kinds = dict(store.query("SELECT kind, count() FROM backtest_trades WHERE run_id = %(r)s GROUP BY kind",
                                 {"r": run_id}))
    finally:
        store.close()
    assert trades_hash == GOLDEN_HASH and commit and fill_mode == "close"
    assert kinds["fill"] == fills > 0 and kinds["funding"] > 0
    assert (start, end) == (1730419200000, 1731628800000)

    # --taker-fee and --latency-ms through the command line, on the same data: the same orders fill at the same
    # prices and sizes, each stamped 250 ms later (bar fills have no later price), each charged the fixed rate,
    # so net PnL falls by exactly the extra fees.
    done = subprocess.run([*command, "--taker-fee", "0.001", "--latency-ms", "250"], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    with connect(StorageSettings(dsn=f"chdb://{tmp_path / 'db'}")) as store:
        (golden, costly) = store.query("SELECT id, total_pnl, fees, funding FROM backtest_runs FINAL ORDER BY recv_ts")
        fills = {run: store.query("SELECT ts, coin, side, px, sz, fee FROM backtest_trades FINAL WHERE run_id = "
                                  "%(r)s AND kind = 'fill' ORDER BY ts, coin, side", {"r": run})
                 for run in (golden[0], costly[0])}
    assert [(ts + 250, *rest[:4]) for ts, *rest in fills[golden[0]]] == [row[:5] for row in fills[costly[0]]]
    assert all(fee == pytest.approx(0.001 * px * sz, abs=1e-6) for *_, px, sz, fee in fills[costly[0]])
    assert costly[2] > golden[2] and costly[3] == golden[3]
    assert golden[1] - costly[1] == pytest.approx(costly[2] - golden[2], abs=1e-6)


def test_same_data_and_config_give_the_same_trades_in_process() -> None:
    recording = load_files(GOLDEN, ["BTC", "ETH", "SOL"])
    spreads = [("ETH", "SOL"), ("BTC", "ETH"), ("BTC", "SOL")]
    first = run_backtest(_settings(), recording, spreads)
    again = run_backtest(_settings(), load_files(GOLDEN, ["BTC", "ETH", "SOL"]), spreads)
    assert first.trades_hash == again.trades_hash == GOLDEN_HASH
    assert first.metrics == again.metrics


class _Scripted:
    """Emits the given targets at the given bar closes: a strategy whose trades are known in advance."""

    def __init__(self, legs: tuple[str, ...], plan: dict[int, tuple[float, tuple[float, ...]]]) -> None:
        self.legs, self.plan, self.seen = legs, plan, set()

    def update(self, event: Event) -> list[Signal]:
        if type(event) is not Bar:
            return []
        self.seen.add(event.ts)
        close_ms = event.ts + HOUR_MS
        if close_ms not in self.plan or not all(event.ts in self.seen for _ in self.legs) or event.coin != self.legs[-1]:
            return []
        target, sizes = self.plan[close_ms]
        return [Signal(ts=close_ms, recv_ts=close_ms, id=f"s{close_ms}", pair="/".join(self.legs), hedge_ratio=1.0,
                       spread=0.0, zscore=0.0, target=target, legs=self.legs, leg_targets=sizes)]


def _bars(coin: str, closes: list[float]) -> list[Bar]:
    return [bar_of(Candle(ts=i * HOUR_MS, recv_ts=i * HOUR_MS, id=f"{coin}{i}", coin=coin, interval="1h",
                          close_ts=(i + 1) * HOUR_MS - 1, open=px, high=px, low=px, close=px, volume=1.0, trades=1))
            for i, px in enumerate(closes)]


def test_hand_computed_trades_fees_and_funding() -> None:
    # Long 1 ETH / short 20 SOL at the close of bar 1 (ETH 2000, SOL 100), flat at the close of bar 4
    # (ETH 2100, SOL 102). Funding 0.0001 an hour on ETH and -0.0002 on SOL, settled at 03:00 and 04:00
    # (hours crossed while open) on the oracle = the previous bar's close; taker fee 0.05%.
    eth, sol = [1990.0, 2000.0, 2050.0, 2080.0, 2100.0, 2100.0], [99.0, 100.0, 101.0, 101.5, 102.0, 102.0]
    funding = [Funding(ts=h * HOUR_MS, recv_ts=0, id=f"{c}{h}", coin=c, rate=r)
               for h in range(1, 7) for c, r in (("ETH", 1e-4), ("SOL", -2e-4))]
    recording = Recording("1h", HOUR_MS, {"ETH": _bars("ETH", eth), "SOL": _bars("SOL", sol)}, funding)
    plan = {2 * HOUR_MS: (1.0, (1.0, -20.0)), 5 * HOUR_MS: (0.0, (0.0, 0.0))}
    result = run_backtest(_settings(), recording, [("ETH", "SOL")], taker_fee=0.0005,
                          strategy_factory=lambda legs, _: _Scripted(legs, plan))
    fills = sorted((f.ts // HOUR_MS, f.coin, f.side, f.px, f.sz, round(f.fee, 6)) for f in result.fills)
    assert fills == [(2, "ETH", "B", 2000.0, 1.0, 1.0), (2, "SOL", "A", 100.0, 20.0, 1.0),
                     (5, "ETH", "A", 2100.0, 1.0, 1.05), (5, "SOL", "B", 102.0, 20.0, 1.02)]
    # Long ETH pays 1e-4 x oracle; short SOL pays 2e-4 x 20 x oracle (negative rate: shorts pay).
    # Hours 3, 4 and 5 settle on the oracle of bars 1, 2 and 3 (set at their closes, 02:00, 03:00, 04:00).
    paid = sorted((p.ts // HOUR_MS, p.coin, round(p.usdc, 6)) for p in result.funding)
    assert paid == [(3, "ETH", -0.2), (3, "SOL", -0.4), (4, "ETH", -0.205), (4, "SOL", -0.404),
                    (5, "ETH", -0.208), (5, "SOL", -0.406)]
    figures = result.metrics
    assert figures is not None
    assert figures.fees == pytest.approx(4.07, abs=1e-9)
    assert figures.funding == pytest.approx(-1.823, abs=1e-9)
    # Spread: ETH +100, SOL -40; net = 60 - 4.07 - 1.823.
    assert figures.pnl == pytest.approx(60 - 4.07 - 1.823, abs=1e-6)
    assert figures.spread_pnl == pytest.approx(60.0, abs=1e-6)
    assert [round(trip.pnl, 6) for trip in result.round_trips] == [round(60 - 4.07 - 1.823, 6)]



def test_funding_settles_at_the_oracle_the_store_recorded_before_each_hour_else_at_the_last_close(
        tmp_path: Path) -> None:
    # The hand-computed run above, from the store, with ETH's oracle recorded in asset_ctx: 2020 at 02:30 and 2030
    # at 02:59:59 (the last before 03:00: the hour is read at it), then 2090 stamped at 04:00 exactly, which is
    # too late for 04:00 (the venue settles before its next prices: no look-ahead) and settles 05:00. SOL has
    # no recorded oracle: its bar closes, as before. Long 1 ETH pays 1e-4 x oracle; short 20 SOL 2e-4 x 20 x close.
    eth, sol = [1990.0, 2000.0, 2050.0, 2080.0, 2100.0, 2100.0], [99.0, 100.0, 101.0, 101.5, 102.0, 102.0]
    candles = [Candle(ts=i * HOUR_MS, recv_ts=i * HOUR_MS, id=f"{coin}{i}", coin=coin, interval="1h",
                      close_ts=(i + 1) * HOUR_MS - 1, open=px, high=px, low=px, close=px, volume=1.0, trades=1)
               for coin, closes in (("ETH", eth), ("SOL", sol)) for i, px in enumerate(closes)]
    funding = [Funding(ts=h * HOUR_MS, recv_ts=h * HOUR_MS, id=f"{c}{h}", coin=c, rate=r)
               for h in range(1, 7) for c, r in (("ETH", 1e-4), ("SOL", -2e-4))]
    contexts = [AssetContext(ts=ts, recv_ts=ts, id=f"ETH{ts}", coin="ETH", mark_px=px, oracle_px=px, mid_px=px,
                             open_interest=0.0, funding=1e-4, premium=0.0, day_ntl_vlm=0.0, prev_day_px=px)
                for ts, px in ((2 * HOUR_MS + 1_800_000, 2020.0), (3 * HOUR_MS - 1_000, 2030.0), (4 * HOUR_MS, 2090.0))]
    with connect(StorageSettings(dsn=f"chdb://{tmp_path / 'db'}", spill_dir=tmp_path / "spill")) as store:
        store.init_schema()
        for table, rows in (("candles", candles), ("funding", funding), ("asset_ctx", contexts)):
            writer = BatchWriter(store, table, background=False)
            writer.add_many(rows)
            writer.close()
        recording = load_store(store, "1h", ["ETH", "SOL"])
    assert recording.oracles == {"ETH": [(3 * HOUR_MS - 1_000, 2030.0), (4 * HOUR_MS, 2090.0)], "SOL": []}
    plan = {2 * HOUR_MS: (1.0, (1.0, -20.0)), 5 * HOUR_MS: (0.0, (0.0, 0.0))}
    result = run_backtest(_settings(), recording, [("ETH", "SOL")], taker_fee=0.0005,
                          strategy_factory=lambda legs, _: _Scripted(legs, plan))
    paid = sorted((p.ts // HOUR_MS, p.coin, round(p.usdc, 6)) for p in result.funding)
    assert paid == [(3, "ETH", -0.203), (3, "SOL", -0.4), (4, "ETH", -0.203), (4, "SOL", -0.404),
                    (5, "ETH", -0.209), (5, "SOL", -0.406)]

def _decisions(result, until_ms: int) -> list[tuple]:
    signals = [(s.ts, s.pair, s.target, round(s.zscore, 9)) for s in result.signals if s.ts <= until_ms]
    fills = [(f.ts, f.coin, f.side, f.px, f.sz) for f in result.fills if f.ts <= until_ms]
    return signals + fills


@hsettings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=20, max_value=44), scale=st.floats(min_value=0.5, max_value=2.0))
def test_future_data_changes_leave_past_decisions_unchanged(cut: int, scale: float) -> None:
    coins = ["BTC", "ETH", "SOL"]
    base = load_files(SAMPLE, coins)
    settings = _settings(zscore_window=12, warmup_rows=6, entry_z=1.0, exit_z=0.2)
    cut_ms = base.start_ms + cut * HOUR_MS

    def changed(bar: Bar) -> Bar:
        if bar.ts < cut_ms:
            return bar
        px = bar.close * scale
        return bar.__class__(**{**{f: getattr(bar, f) for f in bar.__struct_fields__},
                                "open": px, "high": px, "low": px, "close": px, "vwap": px})

    future = Recording(base.interval, base.interval_ms, {c: [changed(b) for b in base.bars[c]] for c in coins},
                       [f if f.ts < cut_ms else Funding(ts=f.ts, recv_ts=f.recv_ts, id=f.id, coin=f.coin, rate=-f.rate)
                        for f in base.funding])
    spreads = [("ETH", "SOL"), ("BTC", "ETH")]
    original = run_backtest(settings, base, spreads)
    perturbed = run_backtest(settings, future, spreads)
    assert _decisions(original, cut_ms) == _decisions(perturbed, cut_ms)
    # Funding settled before the cut was charged on the same positions at the same rates.
    assert _payments(original, cut_ms) == _payments(perturbed, cut_ms)


class _FundingSeen:
    """Records, at each bar of its last leg, the funding rates it has been shown: what a decision there could use."""

    seen: list[tuple[int, dict[str, float]]] = []

    def __init__(self, legs: tuple[str, ...], settings: object) -> None:
        self.legs, self.rates = legs, {}

    def update(self, event: Event) -> list[Signal]:
        if type(event) is Funding:
            self.rates[event.coin] = event.rate
        elif type(event) is Bar and event.coin == self.legs[-1]:
            _FundingSeen.seen.append((event.ts + HOUR_MS, dict(self.rates)))
        return []


def test_funding_stamped_after_the_hour_reaches_decisions_after_it_never_the_hours_bar() -> None:
    """Funding records come at their own stamp (02:00:00.114), after the 02:00 bar close: the decision at
    02:00 cannot use the rate settled then, the one at 03:00 does. Folding the record into the 02:00 bar
    would be look-ahead; into the 03:00 bar, an hour's delay on 1h bars for no gain."""
    bars = {coin: _bars(coin, [100.0, 101.0, 102.0, 103.0]) for coin in ("ETH", "SOL")}
    funding = [Funding(ts=2 * HOUR_MS + 114, id=f"{coin}2", coin=coin, rate=rate)
               for coin, rate in (("ETH", 1e-4), ("SOL", -2e-4))]
    _FundingSeen.seen = []
    run_backtest(_settings(), Recording("1h", HOUR_MS, bars, funding), [("ETH", "SOL")],
                 strategy_factory=_FundingSeen)  # type: ignore[arg-type]
    assert _FundingSeen.seen == [(HOUR_MS, {}), (2 * HOUR_MS, {}), (3 * HOUR_MS, {"ETH": 1e-4, "SOL": -2e-4}),
                                 (4 * HOUR_MS, {"ETH": 1e-4, "SOL": -2e-4})]


def _payments(result, until_ms: int) -> list[tuple]:
    return [(p.ts, p.coin, p.usdc, p.szi, p.rate) for p in result.funding if p.ts < until_ms]


def _opening_above(coin: str, closes: list[float], gap: float) -> list[Bar]:
    """Bars at ``closes`` each opening ``gap`` above the previous close, so an open is never a close."""
    plain = _bars(coin, closes)
    return [plain[0]] + [bar.__class__(**{**{f: getattr(bar, f) for f in bar.__struct_fields__},
                                          "open": before.close + gap}) for before, bar in zip(plain, plain[1:])]


def test_next_open_fills_the_signal_at_the_following_bar_open() -> None:
    closes = {"ETH": [1990.0, 2000.0, 2050.0, 2080.0, 2100.0, 2100.0], "SOL": [99.0, 100.0, 101.0, 101.5, 102.0, 102.0]}
    bars = {coin: _opening_above(coin, series, gap) for (coin, series), gap in zip(closes.items(), (1.0, 0.1))}
    plan = {2 * HOUR_MS: (1.0, (1.0, -20.0)), 5 * HOUR_MS: (0.0, (0.0, 0.0))}
    result = run_backtest(_settings(), Recording("1h", HOUR_MS, bars, []), [("ETH", "SOL")], fill="next_open",
                          taker_fee=0.0, strategy_factory=lambda legs, _: _Scripted(legs, plan))
    # Decided at the 02:00 close (2000 / 100), filled at the next bar's open (2001 / 100.1); out at 05:00
    # on 2100 / 102, filled at 2101 / 102.1. Spread PnL: ETH +100, SOL -20 x 2 = -40.
    fills = sorted((f.coin, f.side, f.px, f.sz) for f in result.fills)
    assert fills == [("ETH", "A", 2101.0, 1.0), ("ETH", "B", 2001.0, 1.0),
                     ("SOL", "A", 100.1, 20.0), ("SOL", "B", 102.1, 20.0)]
    assert result.metrics is not None and result.metrics.pnl == pytest.approx(60.0, abs=1e-9)


def test_next_open_fills_wait_for_the_next_bar_past_funding_stamped_after_the_hour() -> None:
    """Funding records stamped 100 ms after each hour are replay steps of their own, between a signal's bar
    and the next one: the signal must not trade there (no bar sets a price at that step) but at the next bar."""
    closes = {"ETH": [1990.0, 2000.0, 2050.0, 2080.0, 2100.0, 2100.0], "SOL": [99.0, 100.0, 101.0, 101.5, 102.0, 102.0]}
    bars = {coin: _opening_above(coin, series, gap) for (coin, series), gap in zip(closes.items(), (1.0, 0.1))}
    funding = [Funding(ts=h * HOUR_MS + 100, id=f"{coin}{h}", coin=coin, rate=0.0)
               for h in range(1, 7) for coin in ("ETH", "SOL")]
    plan = {2 * HOUR_MS: (1.0, (1.0, -20.0)), 5 * HOUR_MS: (0.0, (0.0, 0.0))}
    result = run_backtest(_settings(), Recording("1h", HOUR_MS, bars, funding), [("ETH", "SOL")], fill="next_open",
                          taker_fee=0.0, strategy_factory=lambda legs, _: _Scripted(legs, plan))
    # Decided at 02:00 (closes 2000 / 100): filled at 03:00, the close of the bar opening at 2001 / 100.1.
    # Out at 05:00 (2100 / 102): filled at 06:00 on 2101 / 102.1.
    fills = sorted((f.ts, f.coin, f.side, f.px, f.sz) for f in result.fills)
    assert fills == [(3 * HOUR_MS, "ETH", "B", 2001.0, 1.0), (3 * HOUR_MS, "SOL", "A", 100.1, 20.0),
                     (6 * HOUR_MS, "ETH", "A", 2101.0, 1.0), (6 * HOUR_MS, "SOL", "B", 102.1, 20.0)]
    assert result.metrics is not None and result.metrics.pnl == pytest.approx(60.0, abs=1e-9)


# In at 03:00 on the opens 2001 / 100.1 (decided at the 02:00 close). The time stop (open more than an hour
# after the 02:00 decision) is decided at the 05:00 close, the first bar stamped past 03:00, and fills at
# 06:00 on that next bar's opens 2101 / 102.1: ETH +100, SOL -2 x 20. The loss limits: at the 04:00 close (1950 / 100)
# the spread has lost 51 - 2 = 49 USDC, past 30: out at 05:00 on the next opens 1951 / 100.1, -50 in all.
DESK_EXITS = [
    ("time_stop_ms", HOUR_MS, [2050.0, 2080.0, 2100.0, 2100.0, 2100.0], [101.0, 101.5, 102.0, 102.0, 102.0],
     (6 * HOUR_MS, 2101.0, 102.1), 60.0),
    ("spread_stop_loss", 30.0, [2000.0, 1950.0, 1950.0, 1950.0], [100.0] * 4, (5 * HOUR_MS, 1951.0, 100.1), -50.0),
    ("daily_drawdown", 30.0, [2000.0, 1950.0, 1950.0, 1950.0], [100.0] * 4, (5 * HOUR_MS, 1951.0, 100.1), -50.0),
]


@pytest.mark.parametrize(("limit", "value", "eth", "sol", "out", "pnl"), DESK_EXITS)
def test_next_open_fills_the_desks_own_exit_at_the_following_bar_open(limit: str, value: float, eth: list[float],
                                                                      sol: list[float], out: tuple[int, float, float],
                                                                      pnl: float) -> None:
    """The desk's own exits (time stop, stop-loss, the daily drawdown's flatten) are decided at a bar's close like
    a signal, so under next_open they fill at the next bar's open of each leg too, not at a price set for an
    earlier order (or not at all)."""
    closes = {"ETH": [1990.0, 2000.0, *eth], "SOL": [99.0, 100.0, *sol]}
    bars = {coin: _opening_above(coin, series, gap) for (coin, series), gap in zip(closes.items(), (1.0, 0.1))}
    settings = _settings()
    setattr(settings.execution, limit, value)
    plan = {2 * HOUR_MS: (1.0, (1.0, -20.0))}
    result = run_backtest(settings, Recording("1h", HOUR_MS, bars, []), [("ETH", "SOL")], fill="next_open",
                          taker_fee=0.0, strategy_factory=lambda legs, _: _Scripted(legs, plan))
    out_ms, eth_px, sol_px = out
    fills = sorted((f.ts, f.coin, f.side, f.px, f.sz) for f in result.fills)
    assert fills == [(3 * HOUR_MS, "ETH", "B", 2001.0, 1.0), (3 * HOUR_MS, "SOL", "A", 100.1, 20.0),
                     (out_ms, "ETH", "A", eth_px, 1.0), (out_ms, "SOL", "B", sol_px, 20.0)]
    assert result.metrics is not None and result.metrics.pnl == pytest.approx(pnl, abs=1e-9)
    assert [(trip.opened_ms, trip.closed_ms) for trip in result.round_trips] == [(3 * HOUR_MS, out_ms)]


@hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hours=st.integers(min_value=3, max_value=9), data=st.data())
def test_every_next_open_fill_is_at_the_open_of_its_coins_first_bar_after_the_decision(hours: int,
                                                                                      data: st.DataObject) -> None:
    """Over bar series where each coin misses its own hours and funding is stamped anywhere in the hour, each
    next-open fill is at the open of its coin's first bar after the decision, stamped at the close of the
    last leg's such bar: never at a step without that coin's bar, never at a price not yet known. The same
    holds for the desk's time stop, decided at a replay step no earlier than the close of the bar it names."""
    bars: dict[str, list[Bar]] = {}
    for coin, tick in (("ETH", 1.0), ("SOL", 0.1)):
        kept = [True] + data.draw(st.lists(st.booleans(), min_size=hours - 1, max_size=hours - 1), label=coin)
        # Closes and opens within 2 ticks of each other (20 bps at most), inside the IOC's 30 bps slippage
        # from whichever close the desk last marked.
        closes = data.draw(st.lists(st.integers(min_value=1000, max_value=1001), min_size=hours, max_size=hours))
        moves = data.draw(st.lists(st.integers(min_value=-1, max_value=1), min_size=hours, max_size=hours))
        series = [bar for bar, keep in zip(_bars(coin, [round(close * tick, 1) for close in closes]), kept) if keep]
        bars[coin] = series[:1] + [bar.__class__(**{**{f: getattr(bar, f) for f in bar.__struct_fields__},
                                                    "open": round(before.close + move * tick, 1)})
                                   for before, bar, move in zip(series, series[1:], moves)]
    stamps = data.draw(st.lists(st.integers(min_value=0, max_value=hours * HOUR_MS), max_size=2 * hours))
    funding = [Funding(ts=ts, id=f"f{i}", coin=coin, rate=1e-5) for i, ts in enumerate(stamps) for coin in bars]
    decided = data.draw(st.lists(st.integers(min_value=1, max_value=hours), min_size=1, unique=True).map(sorted))
    plan = {h * HOUR_MS: ((1.0, (1.0, -10.0)) if i % 2 == 0 else (0.0, (0.0, 0.0))) for i, h in enumerate(decided)}
    # The legs may go hours without a bar (no staleness refusal); prices stay far from the desk's loss limits,
    # so besides the strategy's signals only its time stop (off at 0) trades.
    settings = _settings()
    settings.execution.stale_ms = 0
    settings.execution.time_stop_ms = data.draw(st.integers(min_value=0, max_value=3), label="time stop h") * HOUR_MS
    result = run_backtest(settings, Recording("1h", HOUR_MS, bars, funding), [("ETH", "SOL")], fill="next_open",
                          taker_fee=0.0, strategy_factory=lambda legs, _: _Scripted(legs, plan))

    def first_after(coin: str, decision_ms: int) -> Bar | None:
        return next((bar for bar in bars[coin] if bar.ts >= decision_ms), None)

    def opens_after(coin: str, decision_ms: int) -> tuple[float, int] | None:
        """The coin's fill price and its stamp for a decision at ``decision_ms``, if both legs have a bar after it."""
        firsts = [first_after(leg, decision_ms) for leg in bars]
        if None in firsts:
            return None
        return first_after(coin, decision_ms).open, max(bar.ts for bar in firsts) + HOUR_MS  # type: ignore[union-attr]

    signal_of = {cloid_for(signal.id, coin): signal for signal in result.signals for coin in signal.legs}
    stop_of = {cloid_for(f"stop:{pair_name(('ETH', 'SOL'))}@{bar.ts}", coin): bar.ts
               for series in bars.values() for bar in series for coin in bars}
    steps = sorted({bar.ts + HOUR_MS for series in bars.values() for bar in series} | set(stamps))
    for fill in result.fills:
        if fill.cloid in signal_of:
            assert opens_after(fill.coin, signal_of[fill.cloid].ts) == (fill.px, fill.ts)
        else:
            named = stop_of[fill.cloid]
            assert (fill.px, fill.ts) in {opens_after(fill.coin, step) for step in steps if step >= named + HOUR_MS}
    entry = next((signal for signal in result.signals if signal.target), None)
    if entry is not None and all(first_after(coin, entry.ts) for coin in entry.legs):
        assert {fill.cloid for fill in result.fills} >= {cloid_for(entry.id, coin) for coin in entry.legs}


def test_a_backtest_from_the_store_matches_the_same_data_from_files(tmp_path: Path) -> None:
    config = tmp_path / "pairflow.toml"
    config.write_text(f'[storage]\ndsn = "chdb://{tmp_path / "db"}"\n[strategy]\n'
                      + "".join(f"{name} = {value}\n" for name, value in GOLDEN_STRATEGY.items())
                      + 'bar_interval = "1h"\n')
    base = [sys.executable, "-m", "app"]
    imported = subprocess.run([*base, "data", "import", "--config", str(config), *map(str, GOLDEN)],
                              capture_output=True, text=True, timeout=300)
    assert imported.returncode == 0, imported.stderr
    done = subprocess.run([*base, "backtest", "--config", str(config), "--spreads", "ETH/SOL,BTC/ETH,BTC/SOL",
                           "--no-save"], capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert GOLDEN_HASH[:16] in done.stdout


def test_rolling_ols_mode_without_costs_from_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "pairflow.toml"
    config.write_text(f'[storage]\ndsn = "chdb://{tmp_path / "db"}"\n')
    done = subprocess.run([sys.executable, "-m", "app", "backtest", "--config", str(config), "--spreads", "ETH/SOL",
                           "--mode", "rolling-ols", "--window", "24", "--units", "1", "--no-costs", "--no-save",
                           "--report", str(tmp_path / "report.html"), "--data", str(GOLDEN[0])],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "APR / Sharpe (252 d" in done.stdout and "(not saved)" in done.stdout
    html = (tmp_path / "report.html").read_text().replace("\\u002f", "/")  # plotly escapes "/" in its JSON
    for panel in ("equity (USD)", "drawdown", "ETH/SOL: z-score, entries and exits", "ETH/SOL entry", "PnL attribution"):
        assert panel in html
    bad = subprocess.run([sys.executable, "-m", "app", "backtest", "--config", str(config), "--spreads", "ETH/SOL",
                          "--mode", "magic", "--data", str(GOLDEN[0])], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--mode 'magic' must be one of spread, rolling-ols, kalman-units, recorded" in bad.stderr


def test_a_sweep_reruns_the_backtest_per_value_and_plots_the_sensitivity(tmp_path: Path) -> None:
    config = tmp_path / "pairflow.toml"
    config.write_text(f'[storage]\ndsn = "chdb://{tmp_path / "db"}"\n[strategy]\n'
                      + "".join(f"{name} = {value}\n" for name, value in GOLDEN_STRATEGY.items()))
    command = [sys.executable, "-m", "app", "backtest", "--config", str(config), "--spreads", "ETH/SOL", "--no-save",
               "--data", str(GOLDEN[0]), "--data", str(GOLDEN[1])]
    done = subprocess.run([*command, "--sweep", "entry_z=1.5,2.0,2.5", "--report", str(tmp_path / "r.html")],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    lines = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
             for line in done.stdout.split("parameter sensitivity: entry_z")[1].splitlines() if line.count("│") == 6}
    # Each row is the plain backtest at that value: the 2.0 row is the golden configuration itself.
    recording = load_files(GOLDEN, ["ETH", "SOL"])
    for value in (1.5, 2.0, 2.5):
        alone = run_backtest(_settings(entry_z=value), recording, [("ETH", "SOL")])
        assert lines[f"{value:g}"][2] == str(len(alone.fills))
        assert lines[f"{value:g}"][1] == f"{alone.metrics.pnl:,.2f}"
    assert len({row[2] for row in lines.values()}) > 1  # the bands change the trades
    html = (tmp_path / "r.html").read_text()
    assert "parameter sensitivity: Sharpe per run" in html and "entry_z" in html
    bad = subprocess.run([*command, "--sweep", "entry_z=1.5,lots"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().endswith("--sweep 'entry_z=1.5,lots': 'lots' is not a number")
