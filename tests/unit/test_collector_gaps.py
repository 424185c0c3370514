"""The trade-gap decision: do the trades replayed on resubscribe cover an outage, and which span do they miss."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairflow.events import Trade
from sources.gaps import REPLAY_COVERS, LastTrade, TradeGap, trade_gap

OUTAGE_START, OUTAGE_END = 1_000, 5_000


def _trade(tid: int, ts: int) -> Trade:
    return Trade(id=f"ETH:{tid}", coin="ETH", ts=ts, recv_ts=ts, px=2000.0, sz=0.01, side="B", tid=tid)


def _last(ts: int, *tids: int) -> LastTrade:
    return LastTrade(ts, frozenset(f"ETH:{tid}" for tid in tids))


@pytest.mark.parametrize(
    ("last", "replay", "expected"),
    [
        pytest.param(_last(900, 1), [_trade(1, 900), _trade(2, 1_500)],
                     TradeGap(OUTAGE_START, OUTAGE_END, True, REPLAY_COVERS), id="replay-starts-at-our-last-trade"),
        pytest.param(_last(900, 2), [_trade(1, 800), _trade(3, 1_500)],
                     TradeGap(OUTAGE_START, OUTAGE_END, True, REPLAY_COVERS), id="replay-starts-before-our-last-trade"),
        pytest.param(_last(900, 1, 2), [_trade(2, 900), _trade(3, 900)],
                     TradeGap(OUTAGE_START, OUTAGE_END, True, REPLAY_COVERS), id="overlap-inside-one-millisecond"),
        pytest.param(_last(900, 1), [_trade(2, 900), _trade(3, 1_500)],
                     TradeGap(900, 900, False, "trades replayed on resubscribe reach back only to 900 (2 replayed)"),
                     id="same-millisecond-but-not-a-trade-we-had"),
        pytest.param(_last(900, 1), [_trade(5, 2_000), _trade(6, 2_500)],
                     TradeGap(OUTAGE_START, 2_000, False,
                              "trades replayed on resubscribe reach back only to 2000 (2 replayed)"),
                     id="fewer-trades-replayed-than-happened"),
        pytest.param(_last(900, 1), [_trade(5, 950), _trade(6, 2_500)],
                     TradeGap(900, 950, False, "trades replayed on resubscribe reach back only to 950 (2 replayed)"),
                     id="trade-lost-in-flight-before-the-last-frame"),
        pytest.param(None, [_trade(5, 999), _trade(6, 2_500)],
                     TradeGap(OUTAGE_START, OUTAGE_END, True, REPLAY_COVERS), id="idle-coin-replay-before-outage"),
        pytest.param(None, [_trade(5, OUTAGE_START)],
                     TradeGap(OUTAGE_START, OUTAGE_START, False,
                              "trades replayed on resubscribe reach back only to 1000 (1 replayed)"),
                     id="idle-coin-replay-in-the-outage-millisecond"),
        pytest.param(None, [_trade(5, 3_000)],
                     TradeGap(OUTAGE_START, 3_000, False,
                              "trades replayed on resubscribe reach back only to 3000 (1 replayed)"),
                     id="idle-coin-traded-during-outage"),
        pytest.param(_last(900, 1), None,
                     TradeGap(OUTAGE_START, OUTAGE_END, False, "no trades replayed on resubscribe"), id="no-replay"),
        pytest.param(_last(900, 1), [],
                     TradeGap(OUTAGE_START, OUTAGE_END, False, "no trades replayed on resubscribe"), id="empty-replay"),
        pytest.param(None, None,
                     TradeGap(OUTAGE_START, OUTAGE_END, False, "no trades replayed on resubscribe"),
                     id="idle-coin-no-replay"),
    ],
)
def test_trade_gap_decision(last: LastTrade | None, replay: list[Trade] | None, expected: TradeGap) -> None:
    assert trade_gap(OUTAGE_START, OUTAGE_END, last, replay) == expected


def test_replay_order_does_not_matter() -> None:
    replay = [_trade(3, 1_500), _trade(1, 900)]
    assert trade_gap(OUTAGE_START, OUTAGE_END, _last(900, 1), replay).filled
    assert trade_gap(OUTAGE_START, OUTAGE_END, _last(900, 7), replay).end_ts == 900


@st.composite
def outages(draw: st.DrawFn) -> tuple[list[Trade], int, int, int]:
    """Draw a venue tape, how many of its trades were received before the drop, the outage start and the replay size.

    The stream is complete up to the last frame before the drop: every trade
    older than the outage start was received, none after the received ones.
    """
    times = sorted(draw(st.lists(st.integers(0, 40), max_size=25)))
    tape = [_trade(tid, ts) for tid, ts in enumerate(times)]
    received = draw(st.integers(0, len(tape)))
    low = tape[received - 1].ts if received else -5
    high = tape[received].ts if received < len(tape) else 45
    outage_start = draw(st.integers(low, high))
    replayed = draw(st.integers(0, len(tape)))
    return tape, received, outage_start, replayed


@settings(max_examples=500, deadline=None)
@given(outage=outages())
def test_filled_only_when_nothing_was_missed_and_unfilled_spans_hold_every_missed_trade(
    outage: tuple[list[Trade], int, int, int],
) -> None:
    tape, received, outage_start, replayed = outage
    seen = tape[:received]
    last = LastTrade(seen[-1].ts, frozenset(t.id for t in seen if t.ts == seen[-1].ts)) if seen else None
    replay = tape[len(tape) - replayed:] if replayed else None
    missed = tape[received:len(tape) - replayed]

    gap = trade_gap(outage_start, 100, last, replay)

    if gap.filled:
        assert not missed
        assert (gap.start_ts, gap.end_ts) == (outage_start, 100)
    else:
        assert all(gap.start_ts <= trade.ts <= gap.end_ts for trade in missed)
        assert gap.start_ts == outage_start
        assert gap.end_ts == (replay[0].ts if replay else 100)
    if seen and replayed > len(tape) - received:
        assert gap.filled, "a replay that reaches back into the received trades covers the outage"
