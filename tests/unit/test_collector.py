"""Collector frame handling against recorded Hyperliquid WebSocket frames."""

from __future__ import annotations

import json

import pytest
import structlog.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from app.commands.backfill import parse_day
from app.options import parse_coins
from pairflow.config import CollectorSettings
from pairflow.errors import PairflowError
from pairflow.events import AssetContext, Bbo, BookLevel, Candle, Gap, L2Book, Trade
from pairflow.hyperliquid.client import InfoClient
from sources.collector import Collector, top_coins
from sources.gaps import GapTracker
from sources.output import Output
from tests.helpers import FIXTURES
from tests.metrics_support import sample

RECV = 1_790_358_620_000


def _frames(name: str) -> list[str]:
    recorded = json.loads((FIXTURES / "hyperliquid" / "ws" / name).read_text())
    return [json.dumps(frame) for frame in recorded["response"]]


UNUSED_REST = InfoClient("http://127.0.0.1:9")  # frame handling never calls REST; one client keeps tests fast


def _collector(book_levels: int = 10) -> tuple[Collector, list[tuple[str, str, object]]]:
    out: list[tuple[str, str, object]] = []
    settings = CollectorSettings(url="http://127.0.0.1:9", coins=["BTC"], book_levels=book_levels)
    return Collector(lambda topic, key, event: out.append((topic, key, event)), settings, info=UNUSED_REST), out


def test_mainnet_frames_become_whole_events_and_user_channels_are_skipped() -> None:
    collector, out = _collector()
    for frame in _frames("ws_mixed_mainnet_2026.json"):
        collector.handle_frame(frame, RECV)

    assert out == [
        ("md.trades", "BTC", Trade(id="BTC:437413095582311", coin="BTC", ts=1790358604045, recv_ts=RECV, px=83770.0,
                                   sz=0.00819, side="B", tid=437413095582311, hash="0x" + "0" * 64)),
        ("md.trades", "BTC", Trade(id="BTC:784469253141982", coin="BTC", ts=1790358606027, recv_ts=RECV, px=83769.0,
                                   sz=0.0048, side="A", tid=784469253141982,
                                   hash="0xa7c8a1a1ff42f7b2a9420445311dcb0201b500879a4616844b914cf4be46d19d")),
        ("md.bbo", "BTC", Bbo(id="BTC:1790358617881", coin="BTC", ts=1790358617881, recv_ts=RECV, bid_px=83757.0,
                              bid_sz=22.61305, ask_px=83758.0, ask_sz=0.00016)),
        ("md.candles", "BTC", Candle(id="BTC:1m:1790358600000", coin="BTC", interval="1m", ts=1790358600000,
                                     close_ts=1790358659999, recv_ts=RECV, open=83765.0, high=83770.0, low=83756.0,
                                     close=83765.0, volume=0.3317, trades=36)),
        ("md.candles", "BTC", Candle(id="BTC:1m:1790358660000", coin="BTC", interval="1m", ts=1790358660000,
                                     close_ts=1790358719999, recv_ts=RECV, open=83765.0, high=83805.0, low=83760.0,
                                     close=83801.0, volume=1.2044, trades=88)),
        ("md.ctx", "BTC", AssetContext(id=f"BTC:{RECV}", coin="BTC", ts=RECV, recv_ts=RECV, mark_px=83757.0,
                                       oracle_px=83778.1, mid_px=83757.5, open_interest=39338.76246,
                                       funding=0.0000125, premium=-0.0001348801, day_ntl_vlm=3096053627.5618200302,
                                       prev_day_px=84086.0)),
    ]
    assert dict(collector.out.malformed) == {"user": 1, "orderUpdates": 1}
    assert collector.out.events_out == {"md.trades": 2, "md.bbo": 1, "md.candles": 2, "md.ctx": 1}


def test_testnet_frames_trim_the_book_and_ignore_control_channels() -> None:
    collector, out = _collector(book_levels=3)
    for frame in _frames("ws_mixed_testnet_2026.json"):
        collector.handle_frame(frame, RECV)

    books = [event for topic, _, event in out if topic == "md.l2"]
    assert books == [
        L2Book(id="BTC:1785251521889", coin="BTC", ts=1785251521889, recv_ts=RECV,
               bids=(BookLevel(63460.0, 0.02666, 2), BookLevel(63457.0, 0.00028, 1), BookLevel(63454.0, 0.02659, 2)),
               asks=(BookLevel(63488.0, 0.01246, 2), BookLevel(63495.0, 0.01263, 2), BookLevel(63496.0, 0.00019, 1)))
    ]
    assert [topic for topic, _, _ in out] == ["md.l2", "md.bbo", "md.trades"]
    assert dict(collector.out.malformed) == {"error": 1, "userFills": 1, "orderUpdates": 2}
    assert collector.out.frames_in["pong"] == 1
    assert collector.out.frames_in["subscriptionResponse"] == 2


GOOD_TRADE = json.dumps({"channel": "trades", "data": [
    {"coin": "ETH", "side": "A", "px": "2000.5", "sz": "1.5", "time": 1790000000000, "tid": 7, "hash": "0x1",
     "users": ["0xa", "0xb"]}]})


@pytest.mark.parametrize(
    ("raw", "channel"),
    [
        ("{not json", "<not json>"),
        ("", "<not json>"),
        ('["trades"]', "<no channel>"),
        ('{"data": []}', "<no channel>"),
        ('{"channel": "trades", "data": {"coin": "ETH"}}', "trades"),
        ('{"channel": "trades", "data": [{"coin": "ETH", "side": "X", "px": "1", "sz": "1", "time": 1, "tid": 1}]}',
         "trades"),
        ('{"channel": "trades", "data": [{"coin": "ETH", "side": "B", "px": "abc", "sz": "1", "time": 1, "tid": 1}]}',
         "trades"),
        ('{"channel": "l2Book", "data": {"coin": "ETH", "time": 1, "levels": [[{"px": "2", "sz": "1", "n": 1}],'
         ' [{"px": "1", "sz": "1", "n": 1}]]}}', "l2Book"),
        ('{"channel": "candle", "data": {"t": 10, "T": 5, "s": "ETH", "i": "1m", "o": "1", "c": "1", "h": "1",'
         ' "l": "1", "v": "1", "n": 1}}', "candle"),
        ('{"channel": "bbo", "data": {"coin": "ETH", "time": 1, "bbo": [null]}}', "bbo"),
        ('{"channel": "activeAssetCtx", "data": {"coin": "ETH", "ctx": {}}}', "activeAssetCtx"),
        ('{"channel": "somethingNew", "data": {}}', "somethingNew"),
    ],
)
def test_malformed_frame_is_counted_skipped_and_the_stream_goes_on(raw: str, channel: str) -> None:
    collector, out = _collector()
    collector.handle_frame(GOOD_TRADE, RECV)
    collector.handle_frame(raw, RECV)
    collector.handle_frame(GOOD_TRADE.replace('"tid": 7', '"tid": 8'), RECV)

    assert dict(collector.out.malformed) == {channel: 1}
    assert [event.id for _, _, event in out] == ["ETH:7", "ETH:8"]


def test_top_coins_ranks_listed_perps_by_notional_volume() -> None:
    ctx = {"funding": "0.0000125", "openInterest": "10.0", "prevDayPx": "10.0", "premium": "0.0", "oraclePx": "10.0",
           "markPx": "10.0", "midPx": "10.0", "impactPxs": ["9.9", "10.1"], "dayBaseVlm": "1.0"}
    universe = [{"name": name, "szDecimals": 2, "maxLeverage": 10} for name in ("BTC", "ETH", "MATIC", "SOL")]
    universe[2]["isDelisted"] = True
    volumes = ["500.0", "900.0", "99999.0", "700.0"]
    payload = [{"universe": universe}, [dict(ctx, dayNtlVlm=v) for v in volumes]]

    assert top_coins(payload, 2) == ["ETH", "SOL"]
    assert top_coins(payload, 10) == ["ETH", "SOL", "BTC"]


def test_subscriptions_cover_every_stream_of_every_coin() -> None:
    settings = CollectorSettings(url="testnet", coins=["BTC", "ETH"], candle_interval="5m")
    collector = Collector(lambda *args: None, settings, info=UNUSED_REST)
    assert collector.subscriptions[:5] == [
        {"type": "trades", "coin": "BTC"},
        {"type": "l2Book", "coin": "BTC"},
        {"type": "bbo", "coin": "BTC"},
        {"type": "candle", "coin": "BTC", "interval": "5m"},
        {"type": "activeAssetCtx", "coin": "BTC"},
    ]
    assert len(collector.subscriptions) == 10


def test_gap_tracker_emits_on_md_gaps_with_a_stable_id() -> None:
    out: list[tuple[str, str, object]] = []
    tracker = GapTracker(Output(lambda *args: out.append(args)), clock=lambda: 6000, exchange_now=lambda: 5500)
    gap = tracker.record("BTC", "trades", 1000, 5000, False, "outage")
    assert gap == Gap(id="BTC:trades:1000", coin="BTC", stream="trades", start_ts=1000, end_ts=5000, filled=False,
                      reason="outage", ts=6000, recv_ts=6000)
    assert out == [("md.gaps", "BTC", gap)]


def test_lag_is_receive_time_minus_exchange_time_of_trades_books_and_bbo() -> None:
    collector, _ = _collector()
    before = {channel: (sample("pairflow_collector_lag_seconds_sum", channel=channel),
                        sample("pairflow_collector_lag_seconds_count", channel=channel))
              for channel in ("trades", "l2Book", "bbo", "candle")}
    collector.handle_frame(GOOD_TRADE, 1_790_000_000_250)
    for frame in _frames("ws_mixed_testnet_2026.json"):
        collector.handle_frame(frame, 1_785_251_523_000)

    def observed(channel: str) -> tuple[float, float]:
        return (sample("pairflow_collector_lag_seconds_sum", channel=channel) - before[channel][0],
                sample("pairflow_collector_lag_seconds_count", channel=channel) - before[channel][1])

    assert observed("trades") == (pytest.approx(0.25 + 66.657), 2)  # 1785251523000 - 1785251456343
    assert observed("l2Book") == (pytest.approx(1.111), 1)  # 1785251523000 - 1785251521889
    assert observed("bbo") == (pytest.approx(0.910), 1)  # 1785251523000 - 1785251522090
    assert observed("candle") == (0, 0)  # a candle's ts is its open time, not when it was stamped


def test_trades_replayed_after_a_resubscribe_are_emitted_once() -> None:
    collector, out = _collector()
    older = GOOD_TRADE.replace('"tid": 7', '"tid": 6').replace("1790000000000", "1789999999000")
    collector.handle_frame(GOOD_TRADE, RECV)
    collector.handle_frame(GOOD_TRADE, RECV)
    collector.handle_frame(older, RECV)
    collector.handle_frame(GOOD_TRADE.replace('"tid": 7', '"tid": 9'), RECV)

    assert [event.id for _, _, event in out] == ["ETH:7", "ETH:9"]
    assert not collector.out.malformed


def test_cli_arguments_are_parsed_or_rejected_in_one_line() -> None:
    assert parse_coins(" BTC, ETH ") == ["BTC", "ETH"]
    assert parse_coins(None) == []
    with pytest.raises(PairflowError, match="comma-separated list"):
        parse_coins("BTC,,ETH")
    assert parse_day("2024-09-01", "--from") == 1_725_148_800_000
    assert parse_day("2024-09-01T01:00+01:00", "--from") == 1_725_148_800_000
    with pytest.raises(PairflowError, match="--to '09/01/2024' is not a date"):
        parse_day("09/01/2024", "--to")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["coin", "px", "sz", "side", "time", "tid", "levels", "bbo", "ctx", "t", "T", "s", "i",
                         "o", "h", "l", "c", "v", "n", "markPx", "oraclePx"]), children, max_size=6),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_frame_is_either_handled_or_counted_as_malformed(text: str) -> None:
    collector, out = _collector()
    collector.handle_frame(text, RECV)
    # Counted once, under one channel; a frame counted as malformed emits nothing.
    assert len(set(collector.out.frames_in) | set(collector.out.malformed)) == 1
    assert sum(collector.out.frames_in.values()) <= 1 and sum(collector.out.malformed.values()) <= 1
    assert not (collector.out.malformed and out)


@settings(max_examples=300, deadline=None)
@given(channel=st.sampled_from(["trades", "l2Book", "bbo", "candle", "activeAssetCtx"]), data=JSON)
def test_any_payload_on_a_known_channel_never_stops_the_stream(channel: str, data: object) -> None:
    """A payload the collector cannot use: one error line with its reason, nothing published from it, the next frame read."""
    collector, out = _collector()
    with structlog.testing.capture_logs() as logs:
        collector.handle_frame(json.dumps({"channel": channel, "data": data}), RECV)
    collector.handle_frame(GOOD_TRADE, RECV)
    assert out[-1][2].id == "ETH:7"
    assert sum(collector.out.malformed.values()) <= 1
    if collector.out.malformed:
        assert [event.id for _, _, event in out] == ["ETH:7"]
        (skipped,) = [line for line in logs if line["event"] == "skipped malformed market data"]
        assert skipped["channel"] in (channel, "<not json>")  # json.dumps writes Infinity, which is no JSON
        assert skipped["reason"] and "\n" not in skipped["reason"]


def test_a_context_is_stamped_with_the_newest_book_of_its_coin_its_receive_time_before_any() -> None:
    """A step's context follows its book on a venue publishing every step: the book's time is the oracle's."""
    collector, out = _collector()
    ctx = {"funding": "0.0000125", "openInterest": "1.0", "prevDayPx": "100.0", "dayNtlVlm": "1.0",
           "premium": "0.0", "oraclePx": "101.5", "markPx": "101.0", "midPx": "101.0", "impactPxs": ["100.9", "101.1"]}
    book = {"coin": "BTC", "time": 7_250, "levels": [[{"px": "100.9", "sz": "1.0", "n": 1}],
                                                      [{"px": "101.1", "sz": "1.0", "n": 1}]]}
    for data in ({"coin": "BTC", "ctx": ctx}, None, {"coin": "BTC", "ctx": ctx}, {"coin": "ETH", "ctx": ctx}):
        frame = {"channel": "l2Book", "data": book} if data is None else {"channel": "activeAssetCtx", "data": data}
        collector.handle_frame(json.dumps(frame), 9_000)
    contexts = [(event.coin, event.ts, event.id, event.oracle_px) for topic, _, event in out if topic == "md.ctx"]
    assert contexts == [("BTC", 9_000, "BTC:9000", 101.5), ("BTC", 7_250, "BTC:7250", 101.5),
                        ("ETH", 9_000, "ETH:9000", 101.5)]
