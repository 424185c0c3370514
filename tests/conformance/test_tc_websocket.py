"""TC-28..TC-31: WebSocket subscriptions through the SDK's own WebsocketManager, plus funding and candles."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
import websocket
from hyperliquid.api import API
from hyperliquid.info import Info
from hyperliquid.utils.signing import get_timestamp_ms, sign_l1_action

from pairflow.clock import WALL_CLOCK
from tests.conformance.conftest import SteppableClock, fixture, make_engine, same_shape
from tests.helpers import eventually
from tests.support.venue import run_venue
from venue.engine import Limit, OrderRequest, Tif

HOUR_MS = 3_600_000


class Recorder:
    """Collect SDK callback messages per channel."""

    def __init__(self) -> None:
        self.frames: dict[str, list] = defaultdict(list)

    def __call__(self, message: dict) -> None:
        self.frames[message["channel"]].append(message)

    def count(self, channel: str) -> int:
        return len(self.frames[channel])


@pytest.fixture
def ws_info(venue):
    info = Info(venue.url)
    yield info
    info.disconnect_websocket()


def test_tc28_every_channel_reaches_its_sdk_callback(venue, ws_info, capsys):
    maker = venue.seed_book(bid="1999", ask="2001", sz="5")
    wallet = venue.wallet()
    user = wallet.address
    frames = Recorder()
    subscriptions = [
        {"type": "allMids"},
        {"type": "l2Book", "coin": "ETH"},
        {"type": "trades", "coin": "ETH"},
        {"type": "bbo", "coin": "ETH"},
        {"type": "candle", "coin": "ETH", "interval": "1m"},
        {"type": "userEvents", "user": user},
        {"type": "userFills", "user": user},
        {"type": "orderUpdates", "user": user},
        {"type": "userFundings", "user": user},
        {"type": "userNonFundingLedgerUpdates", "user": user},
        {"type": "activeAssetCtx", "coin": "ETH"},
        {"type": "activeAssetData", "user": user, "coin": "ETH"},
        {"type": "webData2", "user": user},
    ]
    for subscription in subscriptions:
        ws_info.subscribe(subscription, frames)
    eventually(lambda: frames.count("userFills") and frames.count("l2Book") and frames.count("allMids"))
    snapshot = frames.frames["userFills"][0]["data"]
    assert snapshot == {"isSnapshot": True, "user": user.lower(), "fills": []}

    exchange = venue.exchange(wallet)
    exchange.market_open("ETH", True, 0.5)
    eventually(lambda: frames.count("trades") and frames.count("user") and frames.count("userFills") >= 2
               and frames.count("orderUpdates") and frames.count("candle") and frames.count("bbo") >= 2)
    trade = frames.frames["trades"][-1]["data"][0]
    assert trade["coin"] == "ETH" and trade["side"] == "B" and len(trade["users"]) == 2
    assert maker.lower() in trade["users"]
    fills = frames.frames["user"][-1]["data"]["fills"]
    assert fills[0]["dir"] == "Open Long"
    streamed = frames.frames["userFills"][-1]["data"]
    assert streamed["user"] == user.lower() and streamed["fills"] == fills
    recorded_stream = fixture("ws/ws_userFills_testnet_2023.json")
    assert recorded_stream[0]["data"]["isSnapshot"] is True and "isSnapshot" not in recorded_stream[-1]["data"]
    updates = [u["status"] for frame in frames.frames["orderUpdates"] for u in frame["data"]]
    assert "filled" in updates
    candle = frames.frames["candle"][-1]["data"]
    assert candle["s"] == "ETH" and candle["i"] == "1m" and candle["T"] == candle["t"] + 60_000 - 1
    assert frames.frames["bbo"][-1]["data"]["bbo"][1]["px"] == "2001.0"
    eventually(lambda: frames.count("activeAssetCtx") and frames.count("activeAssetData")
               and frames.count("webData2") >= 2)
    ctx = frames.frames["activeAssetCtx"][-1]["data"]
    assert ctx["coin"] == "ETH" and {"markPx", "oraclePx", "funding", "openInterest"} <= set(ctx["ctx"])

    exchange.usd_class_transfer(1.0, False)
    eventually(lambda: frames.count("userNonFundingLedgerUpdates") >= 2)
    ledger = frames.frames["userNonFundingLedgerUpdates"][-1]["data"]
    assert ledger["user"] == user.lower()
    assert ledger["nonFundingLedgerUpdates"][0]["delta"]["type"] == "accountClassTransfer"

    venue.clock.step(HOUR_MS - venue.clock() % HOUR_MS + 1_000)
    eventually(lambda: frames.count("userFundings") >= 2 and "funding" in frames.frames["user"][-1]["data"])
    funding = frames.frames["userFundings"][-1]["data"]
    assert funding["user"] == user.lower() and funding["fundings"][0]["coin"] == "ETH"
    assert "unexpected subscription" not in capsys.readouterr().out
    for recorded in fixture("ws/ws_mixed_mainnet_2026.json"):
        kinds = set(recorded["data"]) if isinstance(recorded["data"], dict) else set()
        ours = [frame for frame in frames.frames[recorded["channel"]]
                if not kinds or kinds <= set(frame["data"])][-1]
        assert not same_shape(ours, without_optional_keys(recorded)), recorded["channel"]


def without_optional_keys(frame: dict) -> dict:
    """Drop keys the real venue sends only sometimes (a fill's or order's cloid)."""
    cleaned = json.loads(json.dumps(frame))
    data = cleaned["data"]
    items = data.get("fills", []) if isinstance(data, dict) else [entry.get("order", entry) for entry in data]
    for item in items:
        item.pop("cloid", None)
    return cleaned


def test_tc28_ping_pong_ack_and_errors_on_a_raw_socket(venue):
    socket = websocket.create_connection("ws" + venue.url[len("http"):] + "/ws", timeout=5)
    try:
        assert socket.recv() == "Websocket connection established."
        socket.send(json.dumps({"method": "ping"}))
        assert json.loads(socket.recv()) == {"channel": "pong"}
        subscription = {"type": "userFills", "user": "0x" + "ab" * 20}
        socket.send(json.dumps({"method": "subscribe", "subscription": subscription}))
        ack = json.loads(socket.recv())
        assert ack == {"channel": "subscriptionResponse", "data": {
            "method": "subscribe", "subscription": {**subscription, "aggregateByTime": False}}}
        assert json.loads(socket.recv())["data"]["isSnapshot"] is True
        bad = json.dumps({"method": "subscribe", "subscription": {"type": "noSuchType", "coin": "BTC"}})
        socket.send(bad)
        assert json.loads(socket.recv()) == {
            "channel": "error", "data": f"Error parsing JSON into valid websocket request: {bad}"}
        socket.send("{not json")
        assert json.loads(socket.recv())["channel"] == "error"
        socket.send(json.dumps({"method": "ping"}))
        assert json.loads(socket.recv()) == {"channel": "pong"}
    finally:
        socket.close()


def test_tc29_unsubscribe_stops_only_that_identifier(venue, ws_info):
    venue.seed_book(bid="1999", ask="2001", sz="5")
    wallet = venue.wallet()
    trades, fills = Recorder(), Recorder()
    trades_id = ws_info.subscribe({"type": "trades", "coin": "ETH"}, trades)
    ws_info.subscribe({"type": "userFills", "user": wallet.address}, fills)
    eventually(lambda: fills.count("userFills"))
    exchange = venue.exchange(wallet)
    exchange.market_open("ETH", True, 0.1)
    eventually(lambda: trades.count("trades") == 1 and fills.count("userFills") == 2)
    assert ws_info.unsubscribe({"type": "trades", "coin": "ETH"}, trades_id)
    exchange.market_open("ETH", True, 0.1)
    eventually(lambda: fills.count("userFills") == 3)
    assert trades.count("trades") == 1


def test_tc30_hourly_funding_reaches_history_and_user(venue):
    venue.seed_book(bid="1999", ask="2001", sz="5")
    wallet = venue.wallet()
    venue.exchange(wallet).market_open("ETH", True, 1.0)
    info = venue.info()
    start = venue.clock()
    venue.clock.step(HOUR_MS - start % HOUR_MS + 1_000)
    history = eventually(lambda: info.funding_history("ETH", start))
    assert len(history) == 1 and history[0]["time"] % HOUR_MS < 1_000
    (payment,) = eventually(lambda: info.user_funding_history(wallet.address, start))
    assert payment["delta"]["type"] == "funding" and payment["delta"]["coin"] == "ETH"
    expected = -1.0 * 2_000.0 * float(payment["delta"]["fundingRate"])
    assert abs(float(payment["delta"]["usdc"]) - expected) < 1e-6
    assert not same_shape([payment], fixture("http/http_userFunding_2024.json"))


def test_tc31_candle_snapshot_and_forming_candle(venue, ws_info):
    venue.seed_book(bid="1999", ask="2001", sz="5")
    frames = Recorder()
    ws_info.subscribe({"type": "candle", "coin": "ETH", "interval": "1h"}, frames)
    exchange = venue.exchange(venue.wallet())
    exchange.market_open("ETH", True, 0.1)
    live = eventually(lambda: frames.frames["candle"][-1]["data"])
    now = venue.clock()
    (candle,) = venue.info().candles_snapshot("ETH", "1h", now - HOUR_MS, now)
    assert candle["T"] == candle["t"] + HOUR_MS - 1 and candle["t"] == live["t"]
    assert candle["n"] == 1 and candle["c"] == "2001.0"


def test_candle_snapshot_without_end_time_ends_at_engine_time():
    """A sped-up venue's engine runs ahead of the wall clock the server keeps nonces on."""
    clock = SteppableClock()
    clock.offset_ms = 3 * HOUR_MS
    engine = make_engine(clock())
    with engine.lock:
        engine.fund("0x" + "a" * 40, "100000")
        engine.fund("0x" + "b" * 40, "100000")
        engine.place_orders("0x" + "a" * 40, [OrderRequest(1, False, "2000", "0.5", False, Limit(Tif.GTC))])
        engine.place_orders("0x" + "b" * 40, [OrderRequest(1, True, "2000", "0.5", False, Limit(Tif.IOC))])
    with run_venue(engine) as url:
        candles = API(url).post("/info", {"type": "candleSnapshot",
                                          "req": {"coin": "ETH", "interval": "1m", "startTime": engine.now_ms - 60_000}})
    assert [(candle["t"], candle["n"]) for candle in candles] == [(engine.now_ms // 60_000 * 60_000, 1)]


def test_websocket_post_answers_info_and_signed_actions(venue):
    wallet = venue.wallet()
    nonce = get_timestamp_ms()
    action = {"type": "order", "orders": [{"a": 1, "b": True, "p": "1500", "s": "0.1", "r": False,
                                           "t": {"limit": {"tif": "Gtc"}}}], "grouping": "na"}
    body = {"action": action, "nonce": nonce, "signature": sign_l1_action(wallet, action, None, nonce, None, False),
            "vaultAddress": None, "expiresAfter": None}
    socket = websocket.create_connection("ws" + venue.url[len("http"):] + "/ws", timeout=5)
    try:
        socket.recv()
        socket.send(json.dumps({"method": "post", "id": 1, "request": {"type": "action", "payload": body}}))
        placed = json.loads(socket.recv())
        assert placed["channel"] == "post" and placed["data"]["id"] == 1
        assert "resting" in placed["data"]["response"]["payload"]["response"]["data"]["statuses"][0]
        query = {"type": "openOrders", "user": wallet.address, "dex": ""}
        socket.send(json.dumps({"method": "post", "id": 2, "request": {"type": "info", "payload": query}}))
        answer = json.loads(socket.recv())["data"]
        assert answer["id"] == 2 and answer["response"]["type"] == "info"
        assert answer["response"]["payload"]["data"][0]["limitPx"] == "1500.0"
        socket.send(json.dumps({"method": "post", "id": 3, "request": {"type": "info", "payload": {"type": "x"}}}))
        assert json.loads(socket.recv())["data"]["response"]["type"] == "error"
    finally:
        socket.close()


def test_a_stopped_server_leaves_no_listener_on_the_engine():
    engine = make_engine(WALL_CLOCK.now_ms())
    before = engine.listeners
    for _ in range(3):
        with run_venue(engine) as url:
            assert Info(url, skip_ws=True).all_mids()["ETH"] == "2000.0"
            assert len(engine.listeners) == len(before) + 1
    assert engine.listeners == before
