"""Decoding and validation of raw ingest records (flows.decode)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.decode import DEAD_LETTER_KEY, DeadLetter, decode_batch, problem_with
from operators.netting import size_spread
from operators.order_rules import AssetRules
from pairflow.clock import EventClock
from pairflow.events import Alert, Bar, BookLevel, Candle, Funding, L2Book, Signal, Trade, encode

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
        # Folded into the bars it moved the coin's watermark there: every later trade of the coin was then expired.
        ("md.trades", encode(Trade(id="x", coin="BTC", ts=10**18, px=1.0, sz=1.0, side="B")), "before 2100"),
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


BAR = Bar(id="ETH:1s:1", coin="ETH", ts=1_700_000_000_000, interval="1s", open=2.0, high=2.5, low=1.5, close=2.25,
          volume=3.0, notional=6.5, vwap=2.1, trades=4, buy_volume=2.0, sell_volume=1.0)
SIGNAL = Signal(id="ETH/BTC:1", ts=1_700_000_000_000, pair="ETH/BTC", hedge_ratio=0.05, spread=0.1, zscore=2.1,
                target=1.0, reason="entry", legs=("ETH", "BTC"), hedge_ratios=(0.05,), leg_targets=(1.0, -0.05))


def replaced(event, **changes) -> bytes:
    return encode(msgspec.structs.replace(event, **changes))


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("md.bars", replaced(BAR, close=-5.0), "bar close must be a positive number (received -5.0)"),
        ("md.bars", replaced(BAR, open=0.0), "bar open must be a positive number"),
        ("md.bars", replaced(BAR, low=3.0), "bar low 3.0 must not exceed high 2.5"),
        ("md.bars", replaced(BAR, volume=-1.0), "bar volume must be a non-negative number"),
        ("md.bars", b'{"ts": 1700000000000, "id": "b", "coin": "ETH", "interval": "1s", "open": 1e400, "high": 1.0,'
                    b' "low": 1.0, "close": 1.0, "volume": 1.0, "notional": 1.0, "vwap": 1.0, "trades": 1,'
                    b' "buy_volume": 1.0, "sell_volume": 0.0}', "Number out of range"),
        ("pf.signals", replaced(SIGNAL, leg_targets=(1e300, -1.0)), "signal leg target of ETH must be a finite size"),
        ("pf.signals", replaced(SIGNAL, leg_targets=(1.0,)), "signal has 1 leg targets for 2 legs"),
        ("md.bars", replaced(BAR, ts=10**18), "ts must be an epoch in milliseconds before 2100 (received 10"),
        ("pf.signals", replaced(SIGNAL, ts=1_700_000_000_000_000), "before 2100"),  # microseconds
    ],
)
def test_bars_and_signals_a_stage_cannot_use_become_dead_letters(topic: str, payload: bytes, reason: str) -> None:
    """These decoded and went on: a negative close into the strategy and the store, a leg of 1e300 coins into the
    desk's sizing, which raised and stopped `pairflow run execution`, a bar far in the future past which the
    strategy refused every later bar of its coin as out of order."""
    ((key, [letter]),) = decode_batch([(topic, payload, 0, 7)])
    assert key == DEAD_LETTER_KEY and reason in letter.error and "\n" not in letter.error
    assert decode_batch([("md.bars", encode(BAR), 0, 8), ("pf.signals", encode(SIGNAL), 0, 9)]) == [
        ("ETH", [BAR]), ("ETH/BTC", [SIGNAL])
    ]


@settings(max_examples=200, deadline=None)
@given(target=st.floats(allow_nan=False), sizes=st.tuples(st.floats(allow_nan=False), st.floats(allow_nan=False)))
def test_a_signal_that_decodes_can_be_sized_by_the_desk(target: float, sizes: tuple[float, float]) -> None:
    """Whatever a producer writes into a signal's target and leg sizes, the desk's sizing answers, never raises."""
    ((key, [item]),) = decode_batch([("pf.signals", replaced(SIGNAL, target=target, leg_targets=sizes), 0, 1)])
    if key == DEAD_LETTER_KEY:
        assert item.error and "\n" not in item.error
        return
    rounded, reason = size_spread(item.legs, item.leg_targets, {"ETH": 2000.0, "BTC": 40_000.0},
                                  AssetRules({"ETH": 4, "BTC": 5}))
    assert bool(rounded) != bool(reason) or rounded == (0.0, 0.0)
