"""An embedded ingest restarted without recovered state: the bar open at the kill, rebuilt from the store.

The killed run stored some trades of a minute (an epoch flush) but not yet its
bar. The restart reads `resume_point` from a real chDB store and runs the real
ingest flow on the trades after the last stored one, as the restarted
collector delivers them: every bar stored is the bar of the whole tape.
"""

from __future__ import annotations

from pathlib import Path

from bytewax.testing import run_main

from app.runners.embedded import resume_point
from flows.ingest import IngestRun, ingest_dataflow
from pairflow.config import CollectorSettings, Settings, StorageSettings
from pairflow.events import Trade
from pairflow.storage import Store
from pairflow.storage.writer import BatchWriter
from sources.gaps import LastTrade
from sources.queue_source import QueueSource
from tests.bars_reference import batch_bars

MINUTE = 1_750_000_020_000  # a minute's start
COINS = ("BTC", "ETH")


def _tape() -> list[Trade]:
    """Trades of both coins, two in the same millisecond every 6 s, from 20.25 s into a minute to 26.25 s into the next."""
    trades = []
    for number in range(24):
        ts = MINUTE + 20_250 + number // 2 * 6_000
        for coin in COINS:
            trades.append(Trade(id=f"{coin}:{number}", coin=coin, ts=ts, recv_ts=ts + 30, px=100.0 + number % 5,
                                sz=0.5 + number % 3, side="AB"[number % 2], tid=number))
    return trades


def _settings(tmp_path: Path) -> Settings:
    return Settings(storage=StorageSettings(dsn=f"chdb://{tmp_path}/db", spill_dir=tmp_path / "spill"),
                    collector=CollectorSettings(coins=list(COINS)))


def _restart(tmp_path: Path, received: list[Trade]) -> None:
    """Run the flow as a restart without recovered state: seeded from the store, fed what the collector delivers."""
    settings = _settings(tmp_path)
    start = resume_point(settings)
    source = QueueSource()
    for trade in received:
        source.emit("md.trades", trade.coin, trade)
    source.close()
    run_main(ingest_dataflow(settings, source, tmp_path / "dead", run=IngestRun(seeds=start.seeds)))


def _bars(store: Store) -> dict[str, tuple]:
    rows = store.query("SELECT id, open, high, low, close, volume, trades, incomplete FROM bars_1s FINAL UNION ALL "
                       "SELECT id, open, high, low, close, volume, trades, incomplete FROM bars_1m FINAL")
    return {bar_id: rest for bar_id, *rest in rows}


def _expected(trades: list[Trade]) -> dict[str, tuple]:
    return {bar_id: [open_, high, low, close, volume, count, False]
            for bar_id, (open_, high, low, close, volume, _, _, count, _, _) in batch_bars(trades, (1_000, 60_000)).items()}


def test_the_bar_open_at_the_kill_is_stored_with_the_killed_runs_trades(store: Store, tmp_path: Path) -> None:
    tape = _tape()
    stored = [trade for trade in tape if trade.ts < MINUTE + 50_000]  # ... the killed run's last flush
    with BatchWriter(store, "trades", background=False) as writer:
        writer.add_many(stored)

    start = resume_point(_settings(tmp_path))
    assert start.last == {coin: LastTrade(MINUTE + 44_250, frozenset({f"{coin}:8", f"{coin}:9"})) for coin in COINS}
    assert start.seeds == {coin: [trade for trade in stored if trade.coin == coin] for coin in COINS}

    # The collector resumes at the last stored trade; this replay also re-sends that millisecond's two.
    _restart(tmp_path, [trade for trade in tape if trade.ts >= MINUTE + 44_250])

    bars = _bars(store)
    # Every 1s bar and both 1m bars of the tape; without the seeding the first minute held 6 trades of 14.
    assert bars == _expected(tape)
    assert bars[f"BTC:1m:{MINUTE}"][5] == 14


def test_a_start_with_nothing_stored_marks_the_bars_it_began_inside_incomplete(store: Store, tmp_path: Path) -> None:
    tape = [trade for trade in _tape() if trade.ts >= MINUTE + 32_000]

    assert resume_point(_settings(tmp_path)).seeds == {}
    _restart(tmp_path, tape)

    bars = _bars(store)
    marked = {f"{coin}:{label}:{start}" for coin in COINS
              for label, start in (("1s", MINUTE + 32_000), ("1m", MINUTE))}
    assert {bar_id for bar_id, bar in bars.items() if bar[6]} == marked
    assert {bar_id: bar[:6] for bar_id, bar in bars.items()} == {
        bar_id: bar[:6] for bar_id, bar in _expected(tape).items()}
