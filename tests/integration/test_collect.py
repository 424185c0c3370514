"""The collector against the local venue over real HTTP/WebSocket, into tansu and chDB.

Trades are made directly on the venue's engine by two funded accounts (a maker
resting a Gtc ask, a taker lifting it with Ioc buys). Outages are made with a
TCP proxy between the collector and the venue that can cut every connection
(and refuse new ones) or silently swallow traffic (a stale stream).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from pairflow.config import BrokerSettings, StorageSettings
from pairflow.events import AssetContext, Candle, Event, Trade, decode
from pairflow.hyperliquid.client import HyperliquidError, HyperliquidRateLimitError, InfoClient, TokenBucket
from pairflow.storage import BatchWriter, Store
from sinks.kafka import KafkaSink
from sources.collector import Collector
from sources.gaps import REPLAY_COVERS, LastTrade
from tests.support.wire_engine import WireEngine
from tests.broker import TansuBroker, consume_all
from tests.helpers import eventually
from tests.support.emitted import Emitted
from tests.integration.venue_support import (
    MINUTE_MS,
    RunningCollector,
    SteppableClock,
    TcpProxy,
    collector_settings,
    make_engine,
    make_trades,
    subscribed,
)
from tests.support.venue import run_venue


@pytest.mark.broker
def test_trades_made_on_the_venue_arrive_exactly_once_in_the_topic(venue, tansu_broker: TansuBroker) -> None:
    engine, url, clock, tape = venue
    sink = KafkaSink(BrokerSettings(bootstrap_servers=tansu_broker.bootstrap_servers, partitions=2))
    running = RunningCollector(Collector(sink.emit, collector_settings(url), clock=clock))
    try:
        eventually(lambda: subscribed(running.collector))
        made = make_trades(engine, tape, 12)
        eventually(lambda: running.collector.out.events_out["md.trades"] >= 12)
    finally:
        running.stop()
    assert sink.flush(20) == 0
    sink.close()

    received = [(message.key().decode(), decode(message.value(), Trade))
                for message in consume_all(tansu_broker, "md.trades", len(made), timeout=15)]
    assert len(received) == len(made)
    by_id = {trade.id: (key, trade) for key, trade in received}
    assert len(by_id) == len(made)
    for wire in made:
        key, trade = by_id[f"ETH:{wire['tid']}"]
        assert key == "ETH"
        assert (trade.coin, trade.px, trade.sz, trade.side, trade.ts, trade.tid, trade.hash) == (
            "ETH", 2001.0, 0.01, "B", wire["time"], wire["tid"], wire["hash"])
        assert 0 <= trade.recv_ts - trade.ts < 5_000


def _collector_behind_proxy(url: str, clock, writer: BatchWriter, **options) -> tuple[TcpProxy, Collector, Emitted]:
    """Return a started proxy to the venue at ``url``, a collector of ETH through it and the list it emits into."""
    proxy = TcpProxy(int(url.rsplit(":", 1)[1]))
    proxy.start()
    events = Emitted(writer)
    settings = collector_settings(f"http://127.0.0.1:{proxy.port}", **options.pop("settings", {}))
    collector = Collector(events, settings, clock=clock, **options)
    return proxy, collector, events


def _cut_until_the_venue_clock_passes(proxy: TcpProxy, collector: Collector, engine, clock) -> int:
    """Cut the link and return a time after the collector's last frame once the venue stamps trades after it."""
    proxy.cut()
    eventually(lambda: collector.session.reconnects >= 1)
    cut_at = clock()
    eventually(lambda: engine.now_ms > cut_at)  # the venue's clock advances in steps; stamp missed trades after it
    return cut_at


def _trade_gaps(store: Store) -> dict[str, tuple]:
    rows = store.query("SELECT coin, start_ts, end_ts, filled, reason FROM gaps FINAL WHERE stream = 'trades'")
    return {row[0]: row[1:] for row in rows}


def test_dropped_websocket_reconnects_backfills_candles_and_records_the_trade_gap(venue, store: Store,
                                                                                  tmp_path: Path) -> None:
    engine, url, clock, tape = venue
    writer = BatchWriter(store, "gaps", settings=StorageSettings(spill_dir=tmp_path / "spill"), background=False)
    proxy, collector, events = _collector_behind_proxy(url, clock, writer)
    running = RunningCollector(collector)
    try:
        eventually(lambda: subscribed(collector))
        before = make_trades(engine, tape, 3)
        eventually(lambda: collector.out.events_out["md.trades"] >= 3)
        outage_minute = WireEngine(engine).candle_snapshot("ETH", "1m", clock() - MINUTE_MS, clock())[-1]["t"]

        cut_at = _cut_until_the_venue_clock_passes(proxy, collector, engine, clock)
        during = make_trades(engine, tape, 15)
        clock.step(MINUTE_MS)
        eventually(lambda: engine.now_ms >= outage_minute + MINUTE_MS)
        during += make_trades(engine, tape, 2)
        proxy.start()

        eventually(lambda: subscribed(collector, times=2), timeout=15)
        eventually(lambda: {gap.stream for gap in events.gaps} >= {"candles", "trades"})
        after = make_trades(engine, tape, 2)
        eventually(lambda: collector.out.events_out["md.trades"] >= 3 + 10 + 2)
    finally:
        running.stop()
    writer.close()

    trade_ids = [event.id for topic, _, event in events if topic == "md.trades"]
    replayed = during[-10:]
    assert trade_ids == [f"ETH:{t['tid']}" for t in before + replayed + after]

    closed_candle = [event for topic, _, event in events
                     if topic == "md.candles" and isinstance(event, Candle) and event.ts == outage_minute][-1]
    assert closed_candle.trades == 3 + 15
    assert closed_candle.volume == pytest.approx(0.18)
    assert collector.out.frames_in["candleSnapshot"] >= 1

    rows = store.query("SELECT coin, stream, start_ts, end_ts, filled FROM gaps FINAL ORDER BY stream")
    by_stream = {row[1]: row for row in rows}
    assert set(by_stream) == {"activeAssetCtx", "bbo", "candles", "funding", "l2Book", "trades"}
    # The venue replays its 10 latest trades: the first 7 made during the outage are lost, and the gap
    # runs from the last frame before the cut to the oldest replayed trade.
    missed = during[:-10]
    start_ts, end_ts, filled, reason = _trade_gaps(store)["ETH"]
    assert not filled and reason == f"trades replayed on resubscribe reach back only to {end_ts} (10 replayed)"
    assert before[-1]["time"] <= start_ts <= cut_at < missed[0]["time"]
    assert end_ts == replayed[0]["time"] >= missed[-1]["time"]
    assert by_stream["candles"][4] and by_stream["funding"][4]
    assert not by_stream["l2Book"][4]
    gap_events = [event for topic, _, event in events if topic == "md.gaps"]
    assert len(gap_events) == 6


def test_stale_stream_is_dropped_and_resubscribed_and_bad_frames_do_not_stop_it(venue) -> None:
    engine, url, clock, tape = venue
    proxy = TcpProxy(int(url.rsplit(":", 1)[1]))
    proxy.start()
    events: list[tuple[str, str, Event]] = []
    collector = Collector(lambda *item: events.append(item),
                          collector_settings(f"http://127.0.0.1:{proxy.port}", stale_after_s=1.0,
                                             ping_interval_s=0.3),
                          clock=clock)
    running = RunningCollector(collector)
    try:
        eventually(lambda: subscribed(collector))
        for bad in ("{oops", '{"channel": "trades", "data": [{"coin": "ETH", "px": "x"}]}', '{"channel": "zzz"}'):
            running.call(collector.handle_frame, bad, clock())
        proxy.frozen = True
        eventually(lambda: collector.session.reconnects >= 1, timeout=10)
        proxy.frozen = False
        eventually(lambda: subscribed(collector, times=2), timeout=10)
        made = make_trades(engine, tape, 2)
        eventually(lambda: collector.out.events_out["md.trades"] >= 2)
        eventually(lambda: collector.out.frames_in["pong"] >= 1)
    finally:
        running.stop()
    assert dict(collector.out.malformed) == {"<not json>": 1, "trades": 1, "zzz": 1}
    assert [event.id for topic, _, event in events if topic == "md.trades"] == [f"ETH:{t['tid']}" for t in made]
    fees = [event for topic, key, event in events if topic == "md.fees" and key == "*"]
    assert fees and (fees[0].taker, fees[0].maker) == (0.00045, 0.00015)
    assert collector.out.frames_in["metaAndAssetCtxs"] >= 1 and collector.out.frames_in["fundingHistory"] >= 1
    contexts = [event for topic, _, event in events if topic == "md.ctx"]
    assert contexts and {event.coin for event in contexts} == {"ETH"}
    assert all(isinstance(event, AssetContext) and event.oracle_px == 2000.0 for event in contexts)


def test_a_failing_emit_stops_the_collector_instead_of_dropping_events(venue) -> None:
    engine, url, clock, tape = venue

    def emit(topic: str, key: str, event: Event) -> None:
        if topic == "md.trades":
            raise RuntimeError("sink is closed")

    running = RunningCollector(Collector(emit, collector_settings(url), clock=clock))
    eventually(lambda: subscribed(running.collector))
    make_trades(engine, tape, 1)
    eventually(lambda: running.finished)
    with pytest.raises(RuntimeError, match="sink is closed"):
        running.stop()


def test_client_paces_requests_to_the_venue_limit_and_types_its_429() -> None:
    engine = make_engine(SteppableClock()())
    book = {"type": "l2Book", "coin": "ETH"}

    async def paced(url: str) -> float:
        bucket = TokenBucket(capacity=118, refill_per_s=2)
        async with InfoClient(url, bucket=bucket, retries=0) as info:
            started = time.monotonic()
            for _ in range(61):
                await info.info(book)
            return time.monotonic() - started

    async def unpaced(url: str) -> HyperliquidError:
        async with InfoClient(url, retries=0) as info:
            with pytest.raises(HyperliquidError) as caught:
                for _ in range(61):
                    await info.info(book)
            return caught.value

    with run_venue(engine, ip_weight_per_minute=120) as url:
        assert asyncio.run(paced(url)) >= 1.5
    with run_venue(engine, ip_weight_per_minute=120) as url:
        error = asyncio.run(unpaced(url))
    assert isinstance(error, HyperliquidRateLimitError)
    assert error.is_rate_limited() and error.is_retryable() and error.status == 429


def test_trades_replayed_on_resubscribe_fill_a_short_outage_and_an_idle_coin_stays_unfilled(venue, store: Store,
                                                                                            tmp_path: Path) -> None:
    engine, url, clock, tape = venue
    writer = BatchWriter(store, "gaps", settings=StorageSettings(spill_dir=tmp_path / "spill"), background=False)
    proxy, collector, events = _collector_behind_proxy(url, clock, writer, settings={"coins": ["ETH", "BTC"]},
                                                       replay_wait_s=0.5)
    running = RunningCollector(collector)
    try:
        eventually(lambda: subscribed(collector))
        before = make_trades(engine, tape, 12)
        eventually(lambda: collector.out.events_out["md.trades"] >= 12)

        cut_at = _cut_until_the_venue_clock_passes(proxy, collector, engine, clock)
        during = make_trades(engine, tape, 4)
        proxy.start()

        eventually(lambda: subscribed(collector, times=2), timeout=15)
        eventually(lambda: {(gap.coin, gap.stream) for gap in events.gaps} >= {
            ("ETH", "trades"), ("BTC", "trades")})
        eventually(lambda: collector.out.events_out["md.trades"] >= 12 + 4)
    finally:
        running.stop()
    writer.close()

    trade_ids = [event.id for topic, _, event in events if topic == "md.trades"]
    assert trade_ids == [f"ETH:{t['tid']}" for t in before + during]
    gaps = _trade_gaps(store)
    # ETH: the 10 replayed trades reach back to 6 already received, so nothing of the outage is missing.
    eth_start, eth_end, eth_filled, eth_reason = gaps["ETH"]
    assert eth_filled and eth_reason == REPLAY_COVERS
    assert before[-1]["time"] <= eth_start <= cut_at < during[0]["time"] and eth_end >= during[-1]["time"]
    # BTC never traded, so the venue replays nothing and the gap is unfilled once replay_wait_s passes,
    # up to the newest exchange time received by then.
    btc_start, btc_end, btc_filled, btc_reason = gaps["BTC"]
    assert (btc_start, btc_filled, btc_reason) == (eth_start, False, "no trades replayed on resubscribe")
    assert btc_end >= eth_end
    assert sorted((gap.coin, gap.filled) for gap in events.gaps if gap.stream == "trades") == [
        ("BTC", False), ("ETH", True)]


def test_a_trade_gap_still_awaiting_its_replay_is_recorded_unfilled_when_the_collector_stops(venue, store: Store,
                                                                                            tmp_path: Path) -> None:
    engine, url, clock, _ = venue
    writer = BatchWriter(store, "gaps", settings=StorageSettings(spill_dir=tmp_path / "spill"), background=False)
    proxy, collector, events = _collector_behind_proxy(url, clock, writer, settings={"coins": ["BTC"]},
                                                       replay_wait_s=60)
    running = RunningCollector(collector)
    try:
        eventually(lambda: subscribed(collector))
        _cut_until_the_venue_clock_passes(proxy, collector, engine, clock)
        proxy.start()
        eventually(lambda: subscribed(collector, times=2), timeout=15)
        assert not [gap for gap in events.gaps if gap.stream == "trades"]
    finally:
        running.stop()
    writer.close()

    start_ts, end_ts, filled, reason = _trade_gaps(store)["BTC"]
    assert (filled, reason) == (False, "no trades replayed on resubscribe")
    (candles,) = [gap for gap in events.gaps if gap.stream == "candles"]
    assert start_ts == candles.start_ts and end_ts >= candles.end_ts


def test_a_collector_resuming_after_downtime_accounts_for_the_hole_since_the_last_delivered_trade(
        venue, store: Store, tmp_path: Path) -> None:
    engine, url, clock, tape = venue
    delivered = make_trades(engine, tape, 3)  # what an earlier run had delivered before it was killed
    at = engine.now_ms
    eventually(lambda: engine.now_ms > at)
    missed = make_trades(engine, tape, 14)  # made while no collector ran; the venue replays the last 10
    last = delivered[-1]
    writer = BatchWriter(store, "gaps", settings=StorageSettings(spill_dir=tmp_path / "spill"), background=False)
    events = Emitted(writer)
    resume = {"ETH": LastTrade(last["time"], frozenset({f"ETH:{last['tid']}"}))}
    collector = Collector(events, collector_settings(url), clock=clock, resume=resume)
    running = RunningCollector(collector)
    try:
        eventually(lambda: {gap.stream for gap in events.gaps} >= {"trades", "candles", "funding", "l2Book"})
    finally:
        running.stop()
    writer.close()

    assert [event.id for topic, _, event in events if topic == "md.trades"] == [
        f"ETH:{t['tid']}" for t in missed[-10:]]
    start_ts, end_ts, filled, _ = _trade_gaps(store)["ETH"]
    assert (start_ts, end_ts, filled) == (last["time"], missed[-10]["time"], False)
    candles = next(gap for gap in events.gaps if gap.stream == "candles")
    assert candles.start_ts == last["time"] and candles.end_ts >= missed[-1]["time"] and candles.filled
    assert last["time"] - last["time"] % MINUTE_MS in {event.ts for topic, _, event in events if topic == "md.candles"}
