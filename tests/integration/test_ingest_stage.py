"""The ingest stage as a composable function: clock-driven idle bars, bars handed on in-process."""

from __future__ import annotations

import threading
from datetime import timedelta

import bytewax.operators as op
from bytewax.testing import TestingSink, TestingSource, run_main

from flows.ingest import IngestOptions, IngestRun, IngestStreams, build_ingest_flow
from pairflow.clock import WALL_CLOCK, Clock, EventClock
from pairflow.events import Bar, Bbo, BookLevel, BookSnapshot, L2Book, Trade
from tests.helpers import eventually

T0 = 1_750_000_000_000
BATCH = 4
OPTIONS = IngestOptions(bar_intervals_ms=(1_000,), lateness_ms=100, idle_close_s=0.05, book_interval_ms=1_000)


def _recording() -> list[tuple[str, object, None, None]]:
    """A recorded session in event-time order: BTC trades every 100 ms, ETH only now and then."""
    events: list[object] = []
    for step in range(40):
        ts = T0 + step * 100
        events.append(Trade(id=f"BTC:{step}", coin="BTC", ts=ts, px=100.0 + step % 3, sz=1.0, side="B", tid=step))
        events.append(Bbo(id=f"ETH:bbo:{step}", coin="ETH", ts=ts, bid_px=10.0, bid_sz=1.0, ask_px=10.1, ask_sz=1.0))
        if step in (3, 9, 12, 31):
            events.append(Trade(id=f"ETH:{step}", coin="ETH", ts=ts + 50, px=10.0 + step, sz=2.0, side="A", tid=step))
        if step % 5 == 0:
            level = (BookLevel(99.0, 1.0, 1),), (BookLevel(101.0, 2.0, 1),)
            events.append(L2Book(id=f"BTC:l2:{step}", coin="BTC", ts=ts, bids=level[0], asks=level[1]))
    topics = {Trade: "md.trades", Bbo: "md.bbo", L2Book: "md.l2"}
    return [(topics[type(event)], event, None, None) for event in events]


def _replay(clock: Clock, stalls: dict[int, timedelta]) -> dict[str, list]:
    """Run the recording through the stage; the wall clock stalls ``stalls[n]`` after batch ``n``."""
    items: list[object] = []
    recording = _recording()
    for batch, start in enumerate(range(0, len(recording), BATCH)):
        items.extend(recording[start : start + BATCH])
        if batch in stalls:
            items.append(TestingSource.PAUSE(stalls[batch]))
    stored: list = []
    dead: list = []
    handed_on: list = []

    def next_stage(streams: IngestStreams) -> None:
        # What a strategy stage receives in-process: (coin, [Bar, ...]).
        op.output("next_stage", streams.bars, TestingSink(handed_on))

    flow = build_ingest_flow(
        TestingSource(items, batch_size=BATCH), TestingSink(stored), TestingSink(dead), OPTIONS,
        run=IngestRun(clock=clock, then=next_stage),
    )
    run_main(flow, epoch_interval=timedelta(milliseconds=20))
    assert dead == []
    per_coin: dict[str, list] = {}
    for coin, bars in handed_on:
        per_coin.setdefault(coin, []).extend(bars)
    per_coin["stored"] = sorted((event for _, events in stored for event in events), key=repr)
    return per_coin


# After the batch holding ETH's first trade (step 3) the wall clock moves on (a tick marks the
# trade), then stalls for longer than the trade's bar.
LONG_STALL = {2: timedelta(milliseconds=30), 3: timedelta(seconds=1.2)}


def test_a_replay_gives_the_same_bars_whatever_the_wall_clock_does() -> None:
    smooth = _replay(EventClock(), stalls={})
    stalled = _replay(EventClock(), stalls={batch: timedelta(milliseconds=40) for batch in range(40)} | LONG_STALL)
    assert stalled == smooth
    eth = smooth["ETH"]
    # Each ETH bar is emitted once, complete: idle closing followed event time, not the stalls.
    assert [(bar.ts, bar.trades) for bar in eth] == [(T0, 2), (T0 + 1_000, 1), (T0 + 3_000, 1)]
    assert [bar.ts for bar in smooth["BTC"]] == [T0, T0 + 1_000, T0 + 2_000, T0 + 3_000]
    stored_kinds = {type(event) for event in smooth["stored"]}
    assert stored_kinds == {Trade, Bbo, Bar, BookSnapshot}


def test_on_the_wall_clock_the_same_stalls_close_quiet_bars_early() -> None:
    """The control: idle closing really runs on the injected clock, so a wall clock makes stalls visible."""
    stalled = _replay(WALL_CLOCK, stalls=LONG_STALL)
    eth = stalled["ETH"]
    first_versions = {}
    for bar in eth:
        first_versions.setdefault(bar.id, bar.trades)
    assert first_versions[f"ETH:1s:{T0}"] == 1
    assert max(bar.trades for bar in eth if bar.id == f"ETH:1s:{T0}") == 2


def test_a_live_feed_that_falls_silent_still_closes_its_bars() -> None:
    """No input means no ticks; on the wall clock the coin then reads the clock itself."""
    trades = [
        ("md.trades", Trade(id=f"BTC:{i}", coin="BTC", ts=T0 + 100 * i, px=100.0, sz=1.0, side="B", tid=i), None, None)
        for i in range(4)
    ]
    handed_on: list = []
    flow = build_ingest_flow(
        TestingSource([*trades, TestingSource.PAUSE(timedelta(seconds=6))], batch_size=BATCH),
        TestingSink([]),
        TestingSink([]),
        IngestOptions(bar_intervals_ms=(1_000,), lateness_ms=100, idle_close_s=0.2),
        run=IngestRun(then=lambda streams: op.output("next_stage", streams.bars, TestingSink(handed_on))),
    )
    running = threading.Thread(target=run_main, args=(flow,), kwargs={"epoch_interval": timedelta(milliseconds=50)})
    running.start()
    try:
        eventually(lambda: handed_on, timeout=4.5)
        [(coin, [bar])] = handed_on
        assert (coin, bar.id, bar.trades) == ("BTC", f"BTC:1s:{T0}", 4)
    finally:
        running.join()
