"""Property tests: events survive encode/decode and parsing accepts every valid wire value."""

import math

from hypothesis import given
from hypothesis import strategies as st

from pairflow import events
from pairflow.hyperliquid import parse
from tests.support.event_examples import any_event

finite = st.floats(min_value=1e-8, max_value=1e12, allow_nan=False, allow_infinity=False)
coins = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZk", min_size=1, max_size=8)
ms = st.integers(min_value=0, max_value=2**53)


@given(coin=coins, px=finite, sz=finite, side=st.sampled_from(["B", "A"]), tid=ms, ts=ms)
def test_trade_roundtrip(coin, px, sz, side, tid, ts):
    trade = events.Trade(id=f"{coin}:{tid}", coin=coin, px=px, sz=sz, side=side, tid=tid, ts=ts)
    assert events.decode_topic("md.trades", events.encode(trade)) == trade
    assert events.key_of(trade) == coin


@given(px=finite, sz=finite, tid=ms, ts=ms, side=st.sampled_from(["B", "A"]))
def test_wire_decimal_strings_parse_exactly(px, sz, tid, ts, side):
    wire = {"coin": "BTC", "side": side, "px": repr(px), "sz": repr(sz), "time": ts, "tid": tid, "hash": "0x"}
    trade = parse.parse_trade(wire, 0)
    assert trade.px == px and trade.sz == sz
    assert math.isfinite(trade.px)


@given(
    bids=st.lists(finite, min_size=0, max_size=5, unique=True),
    asks=st.lists(finite, min_size=0, max_size=5, unique=True),
    ts=ms,
)
def test_book_roundtrip_when_uncrossed(bids, asks, ts):
    bids, asks = sorted(bids, reverse=True), sorted(asks)
    if bids and asks and bids[0] >= asks[0]:
        return
    wire = {
        "coin": "ETH",
        "time": ts,
        "levels": [[{"px": repr(p), "sz": "1.5", "n": 2} for p in bids], [{"px": repr(p), "sz": "2", "n": 1} for p in asks]],
    }
    book = parse.parse_l2_book(wire, 7)
    assert [lvl.px for lvl in book.bids] == bids and [lvl.px for lvl in book.asks] == asks
    assert events.decode_topic("md.l2", events.encode(book)) == book


@given(st.sampled_from(sorted(events.EVENT_OF_TOPIC)).flatmap(lambda topic: st.tuples(
    st.just(topic), any_event(events.EVENT_OF_TOPIC[topic]))))
def test_any_event_round_trips_through_its_topic(topic_and_event):
    topic, event = topic_and_event
    assert events.decode_topic(topic, events.encode(event)) == event


def test_every_topic_maps_to_one_event_type():
    assert set(events.EVENT_OF_TOPIC) <= set(events.TOPIC_OF.values())
    assert all(t.startswith("md.") for t in events.MARKET_TOPICS)
    assert len(set(events.TOPIC_OF.values())) == len(events.TOPIC_OF)
    assert {topic: cls for cls, topic in events.TOPIC_OF.items()} == events.EVENT_OF_TOPIC
    assert (events.EVENT_OF_TOPIC["pf.intents"], events.EVENT_OF_TOPIC["pf.orders"]) == (events.OrderIntent, events.Order)
    assert events.EVENT_OF_TOPIC["md.bars"] is events.Bar
    assert "md.bars" not in events.MARKET_TOPICS
