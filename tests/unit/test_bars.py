"""Unit tests for operators.bars.TradeBars."""

from __future__ import annotations

import pytest

from operators.bars import TradeBars, interval_label
from operators.check import check_operator
from pairflow.events import Bar, Gap, Trade


def trade(tid: int, ts: int, px: float, sz: float, side: str = "B", coin: str = "BTC") -> Trade:
    return Trade(id=f"{coin}:{tid}", coin=coin, ts=ts, recv_ts=ts + 5, px=px, sz=sz, side=side, tid=tid)


def feed(bars: TradeBars, trades: list[Trade]) -> list[Bar]:
    out: list[Bar] = []
    for item in trades:
        out.extend(bars.update(item))
    return out


def test_one_second_bar_matches_hand_computation() -> None:
    bars = TradeBars("BTC", intervals_ms=(1_000,), lateness_ms=0)
    out = feed(
        bars,
        [
            trade(1, 10_000, 100.0, 2.0, "B"),
            trade(2, 10_400, 104.0, 1.0, "A"),
            trade(3, 10_999, 98.0, 1.0, "A"),
            trade(4, 11_000, 99.0, 1.0, "B"),
        ],
    )
    assert out == [
        Bar(
            id="BTC:1s:10000",
            ts=10_000,
            recv_ts=11_004,
            coin="BTC",
            interval="1s",
            open=100.0,
            high=104.0,
            low=98.0,
            close=98.0,
            volume=4.0,
            notional=402.0,
            vwap=100.5,
            trades=3,
            buy_volume=2.0,
            sell_volume=2.0,
        )
    ]


def test_out_of_order_within_lateness_is_folded_in_before_the_bar_closes() -> None:
    bars = TradeBars("BTC", intervals_ms=(1_000,), lateness_ms=500)
    assert feed(bars, [trade(2, 1_600, 101.0, 1.0), trade(3, 2_200, 102.0, 1.0)]) == []
    # 1_200 is older than the newest trade but within 500 ms of lateness.
    assert feed(bars, [trade(1, 1_200, 100.0, 1.0)]) == []
    (closed,) = feed(bars, [trade(4, 2_500, 103.0, 1.0)])
    assert (closed.id, closed.open, closed.close, closed.trades) == ("BTC:1s:1000", 100.0, 101.0, 2)
    assert bars.late_trades == 0


def test_trade_later_than_lateness_emits_a_revision_with_the_same_id() -> None:
    bars = TradeBars("BTC", intervals_ms=(1_000,), lateness_ms=0)
    (first,) = feed(bars, [trade(1, 1_100, 100.0, 1.0), trade(2, 2_100, 101.0, 1.0)])
    (revised,) = bars.update(trade(3, 1_050, 90.0, 3.0, "A"))
    assert revised.id == first.id == "BTC:1s:1000"
    assert (revised.trades, revised.open, revised.low, revised.volume, revised.sell_volume) == (2, 90.0, 90.0, 4.0, 3.0)
    assert revised.vwap == pytest.approx((100.0 + 270.0) / 4.0)
    assert bars.late_trades == 1


def test_duplicate_trade_never_counts_twice_even_after_its_bar_closed() -> None:
    bars = TradeBars("BTC", intervals_ms=(1_000,), lateness_ms=0)
    original = trade(1, 1_100, 100.0, 1.0)
    feed(bars, [original, original, trade(2, 2_100, 101.0, 1.0)])
    assert bars.update(original) == []
    assert bars.duplicate_trades == 2
    (closed,) = bars.close_all()
    assert closed.id == "BTC:1s:2000" and closed.trades == 1


def test_trades_beyond_retention_are_dropped_and_counted() -> None:
    bars = TradeBars("BTC", intervals_ms=(1_000,), lateness_ms=0, retention_ms=5_000)
    feed(bars, [trade(1, 1_000, 100.0, 1.0), trade(2, 20_000, 100.0, 1.0)])
    assert bars.update(trade(3, 1_500, 100.0, 1.0)) == []
    assert bars.expired_trades == 1
    # Within retention a late trade is still corrected.
    (revised,) = bars.update(trade(4, 16_000, 100.0, 1.0))
    assert revised.id == "BTC:1s:16000"


def test_one_minute_and_one_second_bars_come_from_the_same_trades() -> None:
    bars = TradeBars("ETH", intervals_ms=(1_000, 60_000), lateness_ms=0)
    trades = [trade(i, 60_000 + i * 700, 10.0 + i, 1.0, coin="ETH") for i in range(90)]
    out = feed(bars, trades) + bars.close_all()
    minute = [bar for bar in out if bar.interval == "1m"]
    seconds = [bar for bar in out if bar.interval == "1s" and bar.ts < 120_000]
    assert [bar.id for bar in minute] == ["ETH:1m:60000", "ETH:1m:120000"]
    assert minute[0].trades == sum(bar.trades for bar in seconds)
    assert minute[0].high == max(bar.high for bar in seconds)
    assert minute[0].volume == pytest.approx(sum(bar.volume for bar in seconds))


def test_idle_advances_event_time_so_a_quiet_coin_closes_its_bars() -> None:
    bars = TradeBars("BTC", intervals_ms=(1_000,), lateness_ms=200)
    bars.update(trade(1, 1_500, 100.0, 1.0))
    assert bars.idle(elapsed_ms=600) == []
    (closed,) = bars.idle(elapsed_ms=800)
    assert closed.id == "BTC:1s:1000"


def test_close_all_emits_open_bars_once() -> None:
    bars = TradeBars("BTC", intervals_ms=(1_000, 60_000), lateness_ms=1_000)
    bars.update(trade(1, 1_500, 100.0, 1.0))
    assert sorted(bar.id for bar in bars.close_all()) == ["BTC:1m:0", "BTC:1s:1000"]
    assert bars.close_all() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"intervals_ms": ()}, "positive"),
        ({"intervals_ms": (0,)}, "positive"),
        ({"intervals_ms": (7_000, 60_000)}, "divide"),
        ({"lateness_ms": -1}, "negative"),
    ],
)
def test_invalid_configuration_is_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TradeBars("BTC", **kwargs)


def test_interval_labels() -> None:
    labels = [interval_label(ms) for ms in (1_000, 60_000, 300_000, 86_400_000, 1_500)]
    assert labels == ["1s", "1m", "5m", "1d", "1500ms"]


def gap(start: int, end: int, filled: bool = False, stream: str = "trades") -> Gap:
    return Gap(id=f"BTC:{stream}:{start}", coin="BTC", stream=stream, ts=end + 1, start_ts=start, end_ts=end,
               filled=filled)


def test_an_unfilled_trade_gap_marks_exactly_the_bars_it_overlaps() -> None:
    bars = TradeBars("BTC", intervals_ms=(1_000, 5_000), lateness_ms=0)
    closed = feed(bars, [trade(1, 1_500, 100.0, 1.0), trade(2, 2_500, 101.0, 1.0), trade(3, 3_500, 102.0, 1.0)])
    assert [bar.id for bar in closed] == ["BTC:1s:1000", "BTC:1s:2000"]
    assert not any(bar.incomplete for bar in closed)

    assert bars.update(gap(2_000, 2_200, filled=True)) == []
    assert bars.update(gap(2_000, 2_200, stream="l2Book")) == []
    revised = bars.update(gap(2_999, 4_000))
    # 1s:2000 (closed) is re-emitted marked; 1s:3000 and 5s:0 are still open and marked when they close.
    assert [(bar.id, bar.trades, bar.incomplete) for bar in revised] == [("BTC:1s:2000", 1, True)]
    later = feed(bars, [trade(4, 4_100, 103.0, 1.0), trade(5, 6_000, 104.0, 1.0)])
    assert {bar.id: bar.incomplete for bar in later} == {
        "BTC:1s:3000": True, "BTC:1s:4000": True, "BTC:5s:0": True}
    assert not any(bar.incomplete for bar in bars.close_all())  # 1s:6000 and 5s:5000 lie after the gap


def test_trade_bars_pass_the_conformance_battery() -> None:
    trades = [trade(i, 1_000 + (i * 337) % 9_000, 100.0 + i % 7, 0.5 + i % 3, "AB"[i % 2]) for i in range(200)]
    trades += trades[:20]
    events: list[Trade | Gap] = [*trades[:70], gap(3_000, 3_400), *trades[70:150], gap(8_000, 8_100), *trades[150:]]
    check_operator(TradeBars("BTC", intervals_ms=(1_000, 5_000), lateness_ms=300, retention_ms=4_000), events)

