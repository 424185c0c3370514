"""What `run execution`'s desk is handed does not depend on fetch timing or batch cuts.

Its source merges `EXECUTION_INPUTS` by event time (`EventTimeMerge` with the
strategy's window) and each released batch is decoded into one group in record
order, which the desk takes as it comes. Before, the source had a window of 1
and the desk sorted each batch: bars a backlog's ingest wrote in runs of one
coin reached a signal hundreds of bars away from its time or not at all,
depending on where the batches were cut.
"""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.decode import decode_batch
from flows.execution import EXECUTION_INPUTS
from pairflow.events import TOPIC_OF, Bar, Signal, encode
from sources.event_time_merge import EventTimeMerge
from sources.time_ordered_source import ORDER_WINDOW
from tests.property.test_event_time_merge import fetches
from tests.strategy_support import bar

KEYS = tuple(f"0-{topic}" for topic in EXECUTION_INPUTS)
BARS, SIGNALS = KEYS.index(f"0-{TOPIC_OF[Bar]}"), KEYS.index(f"0-{TOPIC_OF[Signal]}")
START = 1_700_000_000_000


def signal(ts: int, number: int) -> Signal:
    return Signal(ts=ts, id=f"ETH/BTC:{number}", pair="ETH/BTC", hedge_ratio=1.0, spread=0.0, zscore=2.0,
                  target=-1.0, reason="entry", legs=("ETH", "BTC"), hedge_ratios=(1.0,), leg_targets=(-0.1, 0.01))


@st.composite
def topics(draw) -> tuple[list[bytes], ...]:
    """md.bars holding each coin's bars in runs of one coin (a backlog's ingest); pf.signals in time order."""
    steps = draw(st.integers(1, 12))
    run = draw(st.integers(1, steps))
    bars = [encode(bar(coin, START + step * 60_000, float(1 + step))) for first in range(0, steps, run)
            for coin in ("ETH", "BTC") for step in range(first, min(first + run, steps))]
    times = sorted(draw(st.lists(st.integers(0, steps - 1), max_size=6)))
    signals = [encode(signal(START + step * 60_000, number)) for number, step in enumerate(times)]
    partitions: list[list[bytes]] = [[] for _ in KEYS]
    partitions[BARS], partitions[SIGNALS] = bars, signals
    return tuple(partitions)


def handed_to_desk(partitions: tuple[list[bytes], ...], schedule: list[tuple[int, int]]) -> list:
    """The desk's input: the merge released after each fetch, each release decoded as one batch."""
    merge = EventTimeMerge(KEYS, cap=2 * ORDER_WINDOW, window=ORDER_WINDOW, patience_s=float("inf"))
    position = [0] * len(KEYS)
    out: list = []

    def release() -> None:
        batch = [(KEYS[index].split("-", 1)[1], raw, 0, offset) for index, offset, raw in merge.release(now=0.0)]
        out.extend(event for _, events in decode_batch(batch, one_group="in-order") for event in events)

    for index, log in enumerate(partitions):
        if not log:
            merge.at_end(KEYS[index])
    for index, size in schedule:
        for offset in range(position[index], position[index] + size):
            raw = partitions[index][offset]
            merge.add(KEYS[index], offset, msgspec.json.decode(raw)["ts"], (index, offset, raw))
        position[index] += size
        if position[index] == len(partitions[index]):
            merge.at_end(KEYS[index])
        release()
    release()
    return out


@settings(max_examples=150, deadline=None)
@given(data=st.data(), partitions=topics())
def test_the_desk_gets_one_order_whatever_the_fetches_each_signal_after_its_own_bars(data, partitions) -> None:
    one = handed_to_desk(partitions, data.draw(fetches(partitions)))
    assert handed_to_desk(partitions, data.draw(fetches(partitions))) == one
    assert len(one) == sum(len(log) for log in partitions)
    # Event-time order, and a signal after every bar of its ms (the bars it was computed from).
    assert [(event.ts, isinstance(event, Signal)) for event in one] == sorted(
        (event.ts, isinstance(event, Signal)) for event in one)
