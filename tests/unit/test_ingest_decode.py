"""Decoding and validation of raw ingest records (flows.decode)."""

from __future__ import annotations

import pytest

from flows.decode import DEAD_LETTER_KEY, DeadLetter, decode_batch, problem_with
from pairflow.clock import EventClock
from pairflow.events import Alert, BookLevel, Candle, Funding, L2Book, Trade, encode

TRADE = Trade(id="BTC:1", coin="BTC", ts=1_700_000_000_000, px=100.5, sz=0.25, side="B", tid=1)


def test_good_records_are_grouped_by_coin_in_arrival_order() -> None:
    eth = Trade(id="ETH:2", coin="ETH", ts=1_700_000_000_001, px=2.0, sz=1.0, side="A", tid=2)
    funding = Funding(id="BTC:f", coin="BTC", ts=1_700_000_000_000, rate=0.0001)
    records = [
        ("md.trades", encode(TRADE), 0, 10),
        ("md.trades", encode(eth), 1, 4),
        ("md.funding", funding, None, None),
    ]
    assert decode_batch(records) == [("BTC", [TRADE, funding]), ("ETH", [eth])]


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("md.trades", b'{"ts": 1, "id": "x"', "truncated"),
        ("md.trades", b'{"ts": 1, "id": "x", "coin": "BTC", "px": "1", "sz": 1.0, "side": "B"}', "$.px"),
        ("md.trades", b'{"ts": 1, "id": "x", "coin": "BTC", "px": 1.0, "sz": 1.0, "side": "Q"}', "$.side"),
        ("md.trades", encode(Trade(id="x", coin="BTC", ts=1, px=0.0, sz=1.0, side="B")), "px must be a positive"),
        ("md.trades", Trade(id="x", coin="BTC", ts=1, px=1.0, sz=float("inf"), side="B"), "sz must be"),
        ("md.trades", Trade(id="x", coin="BTC", ts=1, px=float("nan"), sz=1.0, side="B"), "px must be"),
        ("md.trades", encode(Trade(id="", coin="BTC", ts=1, px=1.0, sz=1.0, side="B")), "id must not be empty"),
        ("md.trades", encode(Trade(id="x", coin="BTC", ts=0, px=1.0, sz=1.0, side="B")), "ts must be a positive"),
        ("md.nope", b"{}", "not a market-data topic"),
        ("md.trades", 42, "payload was a int"),
    ],
)
def test_bad_records_become_dead_letters_naming_the_cause(topic: str, payload: object, reason: str) -> None:
    ((key, [letter]),) = decode_batch([(topic, payload, 3, 99)])
    assert key == DEAD_LETTER_KEY
    assert isinstance(letter, DeadLetter)
    assert reason in letter.error
    assert (letter.topic, letter.partition, letter.offset) == (topic, 3, 99)
    if isinstance(payload, bytes):
        assert letter.raw == payload.decode()


def test_one_bad_record_does_not_stop_the_rest() -> None:
    out = dict(decode_batch([("md.trades", b"junk", 0, 1), ("md.trades", encode(TRADE), 0, 2)]))
    assert out["BTC"] == [TRADE]
    assert [letter.offset for letter in out[DEAD_LETTER_KEY]] == [1]


def test_book_and_candle_rules() -> None:
    crossed = Candle(
        id="c", coin="BTC", ts=1, interval="1m", close_ts=2, open=1.0, high=1.0, low=2.0, close=1.0,
        volume=0.0, trades=0,
    )
    assert problem_with(crossed) == "candle low 2.0 must not exceed high 1.0"
    negative = L2Book(id="b", coin="BTC", ts=1, bids=(BookLevel(1.0, -1.0),), asks=())
    assert "bids level 1.0@-1.0" in problem_with(negative)
    assert problem_with(L2Book(id="b", coin="BTC", ts=1, bids=(BookLevel(1.0, 0.0),), asks=())) is None


def test_a_coin_may_be_empty_only_where_the_event_makes_it_optional() -> None:
    portfolio = Alert(ts=1, id="a", severity="info", source="execution", message="whole account")
    assert problem_with(portfolio) is None
    assert problem_with(L2Book(id="b", coin="", ts=1, bids=(), asks=())) == "coin must not be empty"


def test_the_injected_clock_stamps_dead_letters_and_follows_valid_event_time() -> None:
    clock = EventClock(start_ms=5)
    late = Trade(id="BTC:0", coin="BTC", ts=TRADE.ts - 60_000, px=100.0, sz=1.0, side="A", tid=0)
    future_but_bad = Trade(id="BTC:9", coin="BTC", ts=TRADE.ts + 60_000, px=-1.0, sz=1.0, side="A", tid=9)
    out = dict(decode_batch([("md.trades", b"junk", 0, 1), ("md.trades", TRADE, None, None)], clock))
    assert out[DEAD_LETTER_KEY][0].recv_ts == 5
    assert clock.now_ms() == TRADE.ts
    out = dict(decode_batch([("md.trades", late, None, None), ("md.trades", future_but_bad, None, None)], clock))
    assert out[DEAD_LETTER_KEY][0].recv_ts == TRADE.ts
    assert clock.now_ms() == TRADE.ts
