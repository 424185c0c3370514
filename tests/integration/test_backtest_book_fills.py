"""Backtest fills against recorded depth: book-walking takers, queue-position makers, latency; hand-computed."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from app.backtest.run import run_backtest
from app.backtest.session import SessionTiming
from pairflow.config import Settings, StorageSettings
from operators.orders import cloid_for
from pairflow.events import BookSnapshot, Candle, Funding, Trade
from pairflow.storage import BatchWriter, connect
from sources.replay import HOUR_MS, Recording, ReplayError, load_files, load_store
from tests.integration.test_backtest import _bars, _Scripted, _settings

ENTRY_MS = 2 * HOUR_MS
"""The scripted strategy decides at the 02:00 bar close (ETH 2000, SOL 100)."""
CLOSES = {"ETH": [1990.0, 2000.0, 2050.0, 2080.0], "SOL": [99.0, 100.0, 101.0, 101.5]}


def _book(coin: str, ts: int, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> BookSnapshot:
    return BookSnapshot(ts=ts, recv_ts=ts, id=f"{coin}@{ts}", coin=coin, bid_px=tuple(p for p, _ in bids),
                        bid_sz=tuple(s for _, s in bids), ask_px=tuple(p for p, _ in asks),
                        ask_sz=tuple(s for _, s in asks), mid=(bids[0][0] + asks[0][0]) / 2, spread_bps=None,
                        imbalance=None)


def _trade(coin: str, ts: int, px: float, sz: float, side: str) -> Trade:
    return Trade(ts=ts, recv_ts=ts, id=f"t{ts}", coin=coin, px=px, sz=sz, side=side)  # type: ignore[arg-type]


def _recording(books: dict[str, list[BookSnapshot]], trades: dict[str, list[Trade]] | None = None) -> Recording:
    bars = {coin: _bars(coin, series) for coin, series in CLOSES.items()}
    return Recording("1h", HOUR_MS, bars, [], books=books, trades=trades or {})


def _run(recording: Recording, plan: dict, settings: Settings | None = None, **options: object):
    return run_backtest(settings or _settings(), recording, [("ETH", "SOL")], fill="book", taker_fee=0.0005,
                        strategy_factory=lambda legs, _: _Scripted(legs, plan), **options)  # type: ignore[arg-type]


def _fills(result) -> list[tuple]:
    return sorted((f.ts - ENTRY_MS, f.coin, f.side, f.px, f.sz, round(f.fee, 6)) for f in result.fills)


TAKER_BOOKS = {
    "ETH": [_book("ETH", ENTRY_MS - 1_000, [(1999.0, 5.0)], [(2000.0, 0.4), (2001.0, 0.4), (2003.0, 5.0)])],
    "SOL": [_book("SOL", ENTRY_MS - 1_000, [(100.0, 8.0), (99.9, 8.0), (99.8, 100.0)], [(100.1, 100.0)])],
}


def test_a_taker_order_walks_the_recorded_depth_level_by_level() -> None:
    # Long 1 ETH / short 20 SOL at 02:00 with IOCs 30 bp through the mark (2006 / 99.7): ETH takes
    # 0.4 @ 2000, 0.4 @ 2001, 0.2 @ 2003; SOL hits 8 @ 100, 8 @ 99.9, 4 @ 99.8. Taker fee 5 bp each.
    result = _run(_recording(TAKER_BOOKS), {ENTRY_MS: (1.0, (1.0, -20.0))})
    assert _fills(result) == [(0, "ETH", "B", 2000.0, 0.4, 0.4), (0, "ETH", "B", 2001.0, 0.4, 0.4002),
                              (0, "ETH", "B", 2003.0, 0.2, 0.2003), (0, "SOL", "A", 99.8, 4.0, 0.1996),
                              (0, "SOL", "A", 99.9, 8.0, 0.3996), (0, "SOL", "A", 100.0, 8.0, 0.4)]
    assert result.metrics is not None and result.metrics.fees == pytest.approx(1.9997, abs=1e-9)


def test_latency_shows_the_order_the_book_recorded_when_it_arrives() -> None:
    # 500 ms late, the orders meet the books recorded at 02:00:00.300 (ETH asks moved up to 2004, SOL
    # bids down to 99.95) and their fills are stamped 02:00:00.500; without latency they would not.
    moved = {"ETH": TAKER_BOOKS["ETH"] + [_book("ETH", ENTRY_MS + 300, [(2002.0, 5.0)], [(2004.0, 5.0)])],
             "SOL": TAKER_BOOKS["SOL"] + [_book("SOL", ENTRY_MS + 300, [(99.95, 50.0)], [(100.05, 50.0)])]}
    late = _run(_recording(moved), {ENTRY_MS: (1.0, (1.0, -20.0))}, latency_ms=500)
    assert _fills(late) == [(500, "ETH", "B", 2004.0, 1.0, 1.002), (500, "SOL", "A", 99.95, 20.0, 0.9995)]
    prompt = _run(_recording(moved), {ENTRY_MS: (1.0, (1.0, -20.0))})
    assert [fill[:4] for fill in _fills(prompt)][:3] == [(0, "ETH", "B", 2000.0), (0, "ETH", "B", 2001.0),
                                                         (0, "ETH", "B", 2003.0)]


def test_a_recorded_session_timing_sends_its_legs_in_order_at_their_arrivals_and_funding_at_the_oracle() -> None:
    # The session sent SOL before ETH (the desk would send ETH first: its top of book is thinner); SOL
    # reached the venue at 02:00:00.100, before the books moved at .300, ETH at .400, after: fills stamped
    # then, ETH at 2004 (moved), SOL at 100 / 99.9 (not). The 03:00 funding (rate 1e-4 both) settles at
    # the oracle recorded at 02:59:59.750 (ETH 2010, SOL 100.5), not at the 03:00 bar close:
    # ETH long 1 pays 1 * 2010 * 1e-4 = 0.201, SOL short 20 receives 20 * 100.5 * 1e-4 = 0.201; 04:00 has no
    # recorded rate and charges nothing.
    moved = {"ETH": TAKER_BOOKS["ETH"] + [_book("ETH", ENTRY_MS + 300, [(2002.0, 5.0)], [(2004.0, 5.0)])],
             "SOL": TAKER_BOOKS["SOL"] + [_book("SOL", ENTRY_MS + 300, [(99.95, 50.0)], [(100.05, 50.0)])]}
    recording = _recording(moved)
    recording.funding = [Funding(ts=3 * HOUR_MS, id=f"{coin}3", coin=coin, rate=1e-4) for coin in ("ETH", "SOL")]
    recording.oracles = {"ETH": [(3 * HOUR_MS - 250, 2010.0)], "SOL": [(3 * HOUR_MS - 250, 100.5)]}
    eth, sol = cloid_for(f"s{ENTRY_MS}", "ETH"), cloid_for(f"s{ENTRY_MS}", "SOL")
    timing = SessionTiming(sent={sol: ENTRY_MS + 10, eth: ENTRY_MS + 20}, arrived={sol: ENTRY_MS + 100,
                                                                                   eth: ENTRY_MS + 400})
    result = _run(recording, {ENTRY_MS: (1.0, (1.0, -20.0))}, session=timing)
    assert [(f.ts - ENTRY_MS, f.coin, f.px, f.sz) for f in result.fills] == [
        (100, "SOL", 100.0, 8.0), (100, "SOL", 99.9, 8.0), (100, "SOL", 99.8, 4.0), (400, "ETH", 2004.0, 1.0)]
    assert [(p.ts, p.coin, p.usdc) for p in result.funding] == [
        (3 * HOUR_MS, "ETH", -0.201), (3 * HOUR_MS, "SOL", 0.201), (4 * HOUR_MS, "ETH", 0.0), (4 * HOUR_MS, "SOL", 0.0)]


def test_a_resting_order_fills_after_the_recorded_size_ahead_of_it_has_traded() -> None:
    # Post-only buy of 1 ETH 2 bp under the 2000 mark: 1999.6, behind 0.5 ETH recorded there.
    #   .020 a 0.3 sell prints at 1999.6: 0.2 left ahead of us;
    #   .040 a snapshot shows 0.1 at 1999.6: cancellations, 0.1 ahead;
    #   .060 a 0.5 sell at 1999.6: 0.1 ahead, then 0.4 of ours;
    #   .080 a 1.0 sell at 1999.5 reaches our price: our last 0.6.
    # The router polls every 50 ms: the first poll sees .020-.040, the second .060-.080. Then the
    # SOL leg: post-only sell of 20 at 100.02, alone at a new price; a 25 SOL buy at 100.05 (.150)
    # fills it whole. Maker fee 0.
    books = {"ETH": [_book("ETH", ENTRY_MS - 1_000, [(1999.6, 0.5), (1999.0, 5.0)], [(2000.5, 5.0)]),
                     _book("ETH", ENTRY_MS + 40, [(1999.6, 0.1), (1999.0, 5.0)], [(2000.5, 5.0)])],
             "SOL": [_book("SOL", ENTRY_MS - 1_000, [(99.9, 100.0)], [(100.1, 100.0)])]}
    tape = {"ETH": [_trade("ETH", ENTRY_MS + 20, 1999.6, 0.3, "A"), _trade("ETH", ENTRY_MS + 60, 1999.6, 0.5, "A"),
                    _trade("ETH", ENTRY_MS + 80, 1999.5, 1.0, "A")],
            "SOL": [_trade("SOL", ENTRY_MS + 150, 100.05, 25.0, "B")]}
    settings = _settings()
    settings.execution.order_type = "post_only"
    result = _run(_recording(books, tape), {ENTRY_MS: (1.0, (1.0, -20.0))}, settings)
    assert _fills(result) == [(60, "ETH", "B", 1999.6, 0.4, 0.0), (80, "ETH", "B", 1999.6, 0.6, 0.0),
                              (150, "SOL", "A", 100.02, 20.0, 0.0)]


def test_a_resting_order_the_tape_never_reaches_is_cancelled_unfilled() -> None:
    books = {"ETH": [_book("ETH", ENTRY_MS - 1_000, [(1999.6, 0.5)], [(2000.5, 5.0)])],
             "SOL": [_book("SOL", ENTRY_MS - 1_000, [(99.9, 100.0)], [(100.1, 100.0)])]}
    tape = {"ETH": [_trade("ETH", ENTRY_MS + 20, 1999.6, 0.4, "A"), _trade("ETH", ENTRY_MS + 30, 2000.5, 3.0, "B")]}
    settings = _settings()
    settings.execution.order_type = "post_only"
    result = _run(_recording(books, tape), {ENTRY_MS: (1.0, (1.0, -20.0))}, settings)
    assert result.fills == []  # 0.1 of the queue ahead was left when the router's wait ran out


@hsettings(max_examples=25, deadline=None)
@given(levels=st.lists(st.tuples(st.integers(1, 40), st.integers(1, 30)), min_size=1, max_size=5, unique_by=lambda l: l[0]),
       size=st.integers(1, 24))  # under the 5,000 USD order limit at the 2006 IOC price
def test_book_walking_takes_levels_best_first_up_to_the_limit(levels: list[tuple[int, int]], size: int) -> None:
    # Asks at 2000 + k (k ticks of 1 USD) with n tenths of ETH each; buy `size` tenths with the IOC
    # limit 2006: the fills are the cheapest levels up to 2006, best first, until the size is met.
    asks = sorted((2000.0 + k, n / 10) for k, n in levels)
    books = {"ETH": [_book("ETH", ENTRY_MS - 1_000, [(1990.0, 100.0)], asks)],
             "SOL": [_book("SOL", ENTRY_MS - 1_000, [(99.9, 100.0)], [(100.1, 100.0)])]}
    settings = _settings()
    settings.execution.slippage_bps = 30.0  # 2006; the router retries the rest once at 60 bp (2012)
    result = _run(_recording(books), {ENTRY_MS: (1.0, (size / 10, -20.0))}, settings)
    expected, left = [], size / 10
    for limit in (2006.0, 2012.0):
        for px, available in asks:
            taken = min(available - sum(sz for p, sz in expected if p == px), left)
            if px <= limit and taken > 1e-9:
                expected.append((px, round(taken, 4)))
                left = round(left - taken, 4)
    got: dict[float, float] = {}
    for fill in (fill for fill in result.fills if fill.coin == "ETH"):
        got[fill.px] = round(got.get(fill.px, 0.0) + fill.sz, 4)
    want: dict[float, float] = {}
    for px, sz in expected:
        want[px] = round(want.get(px, 0.0) + sz, 4)
    assert got == want


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _depth_files(tmp_path: Path, tape: list[Trade]) -> list[Path]:
    """Write the test's candles, TAKER_BOOKS and ``tape`` in the file layouts (sources.history_files, book_files)."""
    candles, books, trades = tmp_path / "candles.csv", tmp_path / "books.csv", tmp_path / "trades.parquet"
    candles.write_text("timestamp,coin,open,high,low,close,volume\n" + "".join(
        f"{_at(bar.ts).isoformat()},{bar.coin},{bar.open},{bar.high},{bar.low},{bar.close},{bar.volume}\n"
        for series in _recording({}).bars.values() for bar in series))
    depth = max(len(book.bid_px) for series in TAKER_BOOKS.values() for book in series)
    header = ",".join(f"{side}_{kind}_{k}" for k in range(1, depth + 1) for side in ("bid", "ask") for kind in ("px", "sz"))
    lines = []
    for series in TAKER_BOOKS.values():
        for book in series:
            cells = []
            for k in range(depth):
                for prices, sizes in ((book.bid_px, book.bid_sz), (book.ask_px, book.ask_sz)):
                    cells += [str(prices[k]), str(sizes[k])] if k < len(prices) else ["", ""]
            lines.append(f"{_at(book.ts).isoformat(timespec='milliseconds')},{book.coin}," + ",".join(cells))
    books.write_text(f"timestamp,coin,{header}\n" + "\n".join(lines) + "\n")
    pq.write_table(pa.table({"timestamp": [_at(t.ts) for t in tape], "coin": [t.coin for t in tape],
                             "side": [t.side for t in tape], "px": [t.px for t in tape], "sz": [t.sz for t in tape]}),
                   trades)
    return [candles, books, trades]


def test_recorded_depth_reads_back_from_the_store_and_from_files_and_both_fill_alike(tmp_path: Path) -> None:
    store = connect(StorageSettings(dsn=f"chdb://{tmp_path / 'db'}"))
    tape = [_trade("ETH", ENTRY_MS + 20, 1999.6, 0.3, "A"), _trade("SOL", ENTRY_MS + 30, 100.0, 2.0, "B")]
    try:
        store.init_schema()
        candles = [Candle(ts=bar.ts, recv_ts=bar.ts, id=bar.id, coin=bar.coin, interval="1h", close_ts=bar.ts + HOUR_MS - 1,
                          open=bar.open, high=bar.high, low=bar.low, close=bar.close, volume=bar.volume, trades=1)
                     for series in _recording({}).bars.values() for bar in series]
        books = [book for series in TAKER_BOOKS.values() for book in series]
        for table, rows in (("candles", candles), ("l2_snapshots", books), ("trades", tape)):
            writer = BatchWriter(store, table, background=False)
            writer.add_many(rows)
            writer.close()
        recording = load_store(store, "1h", ["ETH", "SOL"], depth=True)
        with pytest.raises(ReplayError, match="no recorded book snapshots for ETH, SOL in the window"):
            load_store(store, "1h", ["ETH", "SOL"], start_ms=ENTRY_MS, depth=True)
    finally:
        store.close()
    assert recording.books == {coin: list(series) for coin, series in TAKER_BOOKS.items()}
    assert recording.trades == {"ETH": tape[:1], "SOL": tape[1:]}

    files = _depth_files(tmp_path, tape)
    from_files = load_files(files, ["ETH", "SOL"], depth=True)

    def levels(rec: Recording) -> dict:
        return {coin: [(b.ts, b.bid_px, b.bid_sz, b.ask_px, b.ask_sz) for b in series] for coin, series in rec.books.items()}

    assert levels(from_files) == levels(recording)
    assert {coin: [(t.ts, t.px, t.sz, t.side) for t in series] for coin, series in from_files.trades.items()} == {
        coin: [(t.ts, t.px, t.sz, t.side) for t in series] for coin, series in recording.trades.items()}
    plan = {ENTRY_MS: (1.0, (1.0, -20.0))}
    assert _fills(_run(from_files, plan)) == _fills(_run(recording, plan)) != []
    with pytest.raises(ReplayError, match="only read for book fills"):
        load_files(files, ["ETH", "SOL"])

    config = tmp_path / "pairflow.toml"
    config.write_text(f'[storage]\ndsn = "chdb://{tmp_path / "db"}"\n')
    for fill, code in (("book", 0), ("close", 2)):
        done = subprocess.run([sys.executable, "-m", "app", "backtest", "--config", str(config), "--spreads", "ETH/SOL",
                               "--fill", fill, "--no-save", *(arg for path in files for arg in ("--data", str(path)))],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == code, done.stderr[-1000:]
    assert done.stderr.strip().splitlines() == [
        f"error: {files[1]}: book snapshots and trades are only read for book fills (--fill book)"]
