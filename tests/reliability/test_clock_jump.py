"""The machine's clock jumps (stepped by NTP, a resumed VM) under the ingest stage: bars stay exact.

The stage reads "now" from its injected clock to pace its clock ticks, to tell a quiet coin, and to
close bars once no trade arrives at all (while trades arrive, idle closing follows their event time).
Here a live feed is replayed through the real ingest flow into chDB with a clock that follows the feed
as a wall clock would (each trade received 50 ms after it happened) and then jumps an hour ahead or back while
one coin is quiet. Whatever the jump, every trade is stored once, no trade is dropped as expired and
every stored bar equals the batch computation over the trades.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from bytewax.testing import TestingSink, TestingSource, run_main

from flows.ingest import IngestOptions, IngestRun, build_ingest_flow
from pairflow.events import Trade
from pairflow.storage import connect
from sinks.clickhouse import ClickHouseSink
from tests.bars_reference import batch_bars
from tests.integration.ingest_support import chdb_settings, stored_bars
from tests.metrics_support import sample
from tests.reliability.support import lost_and_duplicated, record

T0 = 1_750_000_000_000
HOUR_MS = 3_600_000
OPTIONS = IngestOptions(bar_intervals_ms=(1_000, 60_000), lateness_ms=500, idle_close_s=2.0)


class SteppedClock:
    """A wall clock the feed sets as it goes; it may move back as well as forward."""

    def __init__(self) -> None:
        self.ms = T0

    def now_ms(self) -> int:
        return self.ms

    def wall_seconds_until(self, at_ms: int) -> float:
        return max(0.0, (at_ms - self.ms) / 1_000)

    def observe(self, event_ms: int) -> None:
        """Ignore events, as a wall clock does."""


def feed() -> list[Trade]:
    """Two minutes of trades: BTC every 100 ms, ETH too except for 6 quiet seconds."""
    trades = []
    for step in range(1_200):
        ts = T0 + 100 * step
        trades.append(Trade(id=f"BTC:{step}", coin="BTC", ts=ts, px=100.0 + step % 5, sz=1.0, side="B", tid=step))
        if not 200 <= step < 260:
            trades.append(Trade(id=f"ETH:{step}", coin="ETH", ts=ts + 7, px=10.0 + step % 3, sz=2.0,
                                side="AB"[step % 2], tid=step))
    return trades


def received(trades: list[Trade], clock: SteppedClock, jump_ms: int) -> Iterator[tuple[str, Trade, None, None]]:
    """Yield the trades as the collector hands them on, the clock ``jump_ms`` off during ETH's silence."""
    for trade in trades:
        step = trade.tid
        clock.ms = trade.ts + 50 + (jump_ms if 220 <= step < 240 else 0)
        yield ("md.trades", trade, None, None)


@pytest.mark.parametrize(("jump_ms", "scenario"), [(HOUR_MS, "clock jumps 1 h ahead"), (-HOUR_MS, "clock jumps 1 h back")])
def test_a_clock_jump_neither_drops_nor_double_counts_trades(tmp_path: Path, jump_ms: int, scenario: str) -> None:
    trades = feed()
    settings = chdb_settings(tmp_path)
    with connect(settings) as store:
        store.init_schema()
    clock = SteppedClock()
    flow = build_ingest_flow(
        TestingSource(received(trades, clock, jump_ms), batch_size=8), ClickHouseSink(settings), TestingSink([]),
        OPTIONS, run=IngestRun(clock=clock),
    )
    expired_before = sample("pairflow_ingest_expired_trades_total")
    run_main(flow, epoch_interval=timedelta(milliseconds=20))
    assert sample("pairflow_ingest_expired_trades_total") == expired_before, "trades dropped as expired"
    with connect(settings) as store:
        lost, duplicated = lost_and_duplicated(store, "trades", {trade.id for trade in trades})
        bars = stored_bars(store, "bars_1s") | stored_bars(store, "bars_1m")
    expected = batch_bars(trades, OPTIONS.bar_intervals_ms)
    wrong = sorted(bar_id for bar_id in expected if bars.get(bar_id) != expected[bar_id])
    assert bars.keys() == expected.keys() and not wrong, f"{len(wrong)} bars differ, e.g. {wrong[:3]}"
    record(scenario, len(trades), lost, duplicated, recovery_s=None)  # the stage never stalled
