"""The distributed strategy stage keeps its source's order: decoding and routing do not depend on batch cuts.

Where a fetch or Bytewax's exchange cuts the stream into batches differs
between runs and between a single process and a cluster. The router once
sorted each batch by event time, so a correction, a bar of another interval
or equal-time events of two coins came out in another order depending on the
cut, and so did the signals (1,883 vs 1,885 in the cluster benchmark).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.decode import DEAD_LETTER_KEY, decode_batch
from flows.strategy import _FanOut
from pairflow.events import TOPIC_OF, BookSnapshot, encode
from tests.strategy_support import bar

SPREADS = [("ETH", "SOL"), ("BTC", "ETH")]


def snapshot(coin: str, ts: int) -> BookSnapshot:
    return BookSnapshot(id=f"{coin}:book:{ts}", coin=coin, ts=ts, bid_px=(99.0,), bid_sz=(1.0,), ask_px=(101.0,),
                        ask_sz=(1.0,), mid=100.0, spread_bps=200.0, imbalance=0.0)


# Bars and books of three coins at few distinct times (ties), in any order: what a partition may hold.
events = st.lists(
    st.builds(lambda kind, coin, ts, close: bar(coin, ts, close) if kind else snapshot(coin, ts),
              st.booleans(), st.sampled_from(["ETH", "SOL", "BTC"]),
              st.integers(0, 5).map(lambda n: 1_700_000_000_000 + n * 60_000),
              st.integers(1, 9).map(float)),
    max_size=40,
)


def cut(data: st.DataObject, sequence: list) -> list[list]:
    """Cut ``sequence`` into consecutive batches at drawn places."""
    bounds = [0, *sorted(data.draw(st.sets(st.integers(0, len(sequence))))), len(sequence)]
    return [sequence[start:end] for start, end in zip(bounds, bounds[1:], strict=False)]


def routed(router: _FanOut, batches: list[list]) -> dict[str, list]:
    out: dict[str, list] = {}
    for batch in batches:
        for pair, (_, group) in router([("in-order", batch)]):
            out.setdefault(pair, []).extend(group)
    return out


@settings(max_examples=100, deadline=None)
@given(data=st.data(), sequence=events)
def test_each_spread_gets_its_events_in_source_order_however_the_stream_is_cut(data, sequence) -> None:
    whole = routed(_FanOut(SPREADS, ordered=True), [sequence])
    assert routed(_FanOut(SPREADS, ordered=True), cut(data, sequence)) == whole
    for legs in SPREADS:
        assert whole.get("/".join(legs), []) == [event for event in sequence if event.coin in legs]


@settings(max_examples=100, deadline=None)
@given(data=st.data(), sequence=events,
       junk=st.lists(st.tuples(st.integers(0, 40), st.binary(max_size=20)), max_size=4))
def test_decoding_into_one_group_keeps_the_record_order_across_coins(data, sequence, junk) -> None:
    """Valid records come out in record order whatever the cuts; junk between them becomes dead letters only."""
    records = [(TOPIC_OF[type(event)], encode(event), 0, offset) for offset, event in enumerate(sequence)]
    for place, raw in junk:
        records.insert(place, ("md.bars", raw, 0, None))
    groups = [group for batch in cut(data, records) for group in decode_batch(batch, one_group="in-order")]
    assert [event for key, events in groups if key == "in-order" for event in events] == sequence
    assert sum(len(events) for key, events in groups if key == DEAD_LETTER_KEY) == len(junk)
