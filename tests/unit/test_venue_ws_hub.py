"""The WebSocket router: engine events reach their subscribers, unsubscribed payloads are never built."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from pairflow.clock import ManualClock
from venue.driver_loop import DriverLoop
from venue.engine import AssetSpec, Channel, Engine, EngineEvent, Limit, OrderRequest, Tif
from venue.engine.views import Trade
from venue.server.ws.frames import FrameBuilder
from venue.server.ws.router import Router
from venue.server.ws.subscriptions import Subscriptions

USER = "0x" + "a" * 40
GTC = Limit(Tif.GTC)


class StubConnection:
    """Stands in for a socket: records what the router sends it."""

    def __init__(self) -> None:
        self.ip = "10.0.0.1"
        self.held: dict = {}
        self.frames: list[dict] = []
        self.arrived = asyncio.Event()

    def send(self, text: str) -> None:
        self.frames.append(json.loads(text))
        self.arrived.set()

    async def next_frames(self) -> list[dict]:
        await asyncio.wait_for(self.arrived.wait(), 5)
        self.arrived.clear()
        frames, self.frames = self.frames, []
        return frames


class CountingRouter(Router):
    calls = 0

    def on_engine_event(self, event) -> None:
        self.calls += 1
        super().on_engine_event(event)


def make_engine() -> Engine:
    engine = Engine([AssetSpec("ETH", 4, 25)], now_ms=1)
    engine.set_oracle("ETH", 2_000.0)
    engine.fund(USER, 100_000.0)
    return engine


def test_router_builds_only_subscribed_payloads_delivers_them_in_order_and_stops_listening():
    engine = make_engine()
    built: list[str] = []

    def trade(coin, tid):
        return Trade(coin, True, Decimal("2000.50"), Decimal("0.10"), 7, f"0x{tid:02x}", tid, USER, USER)

    def build(name):
        def make(raw):
            built.append(name)
            return raw
        return make

    async def scenario() -> None:
        subscriptions = Subscriptions()
        router = CountingRouter(engine, subscriptions, FrameBuilder(engine), push_interval=60.0)
        router.start()
        connection = StubConnection()
        subscriptions.add(connection, ("trades", "ETH"), {"type": "trades", "coin": "ETH"})

        def engine_thread() -> None:
            for channel in (Channel.FILLS, Channel.ORDER_UPDATES):
                router.on_engine_event(EngineEvent(channel, USER, [channel], build(channel)))
            router.on_engine_event(EngineEvent(Channel.TRADES, "BTC", [trade("BTC", 0)], build("btc")))
            router.on_engine_event(EngineEvent(Channel.TRADES, "ETH", [trade("ETH", 1)], build("eth 1")))
            router.on_engine_event(EngineEvent(Channel.TRADES, "ETH", [trade("ETH", 2)], build("eth 2")))

        await asyncio.to_thread(engine_thread)
        assert await connection.next_frames() == [
            {"channel": "trades", "data": [{"coin": "ETH", "side": "B", "px": "2000.5", "sz": "0.1", "time": 7,
                                            "hash": "0x01", "tid": 1, "users": [USER, USER]}]},
            {"channel": "trades", "data": [{"coin": "ETH", "side": "B", "px": "2000.5", "sz": "0.1", "time": 7,
                                            "hash": "0x02", "tid": 2, "users": [USER, USER]}]},
        ]
        assert built == ["eth 1", "eth 2"]

        subscriptions.add(connection, ("orderUpdates", USER), {"type": "orderUpdates", "user": USER})
        with engine.lock:
            engine.place_orders(USER, [OrderRequest(0, True, "1900", "0.1", False, GTC)])
        (update,) = await connection.next_frames()
        assert update["channel"] == "orderUpdates" and update["data"][0]["status"] == "open"

        await router.stop()
        assert engine.listeners == ()
        calls = router.calls
        with engine.lock:
            engine.place_orders(USER, [OrderRequest(0, True, "1901", "0.1", False, GTC)])
        assert router.calls == calls

    asyncio.run(scenario())


def test_books_every_step_pushes_each_step_book_as_the_step_left_it_never_on_the_cadence():
    """A book captured at the step, stamped with it: an order arriving after the step is not in that frame.

    The step's changed context follows its book (the collector stamps it with that book's time).
    """
    engine = make_engine()
    with engine.lock:
        engine.place_orders(USER, [OrderRequest(0, False, "2001", "1", False, GTC)])

    async def scenario() -> None:
        subscriptions = Subscriptions()
        router = Router(engine, subscriptions, FrameBuilder(engine), push_interval=0.01, books_every_step=True)
        router.start()
        connection = StubConnection()
        subscriptions.add(connection, ("l2Book", "ETH", None), {"type": "l2Book", "coin": "ETH"})
        subscriptions.add(connection, ("activeAssetCtx", "ETH"), {"type": "activeAssetCtx", "coin": "ETH"})
        loop = DriverLoop(engine, ManualClock(250), step_ms=250, after_step=router.on_step)

        def steps() -> None:
            loop.run_due()
            with engine.lock:
                engine.place_orders(USER, [OrderRequest(0, True, "2001", "0.4", False, Limit(Tif.IOC))])

        await asyncio.to_thread(steps)
        await asyncio.sleep(0.1)  # ten cadence periods: none of them pushes a book
        frame, context = await connection.next_frames()
        assert frame["channel"] == "l2Book" and frame["data"]["time"] == 250
        assert frame["data"]["levels"][1] == [{"px": "2001.0", "sz": "1.0", "n": 1}]
        assert context["channel"] == "activeAssetCtx" and context["data"]["ctx"]["oraclePx"] == "2000.0"
        await router.stop()

    asyncio.run(scenario())


def test_subscriptions_count_per_ip_and_users_and_forget_dropped_connections():
    subscriptions = Subscriptions(max_per_ip=2, max_users=1)
    first, second = StubConnection(), StubConnection()
    other_user = "0x" + "b" * 40
    subscriptions.add(first, ("userFills", USER), {})
    assert subscriptions.refusal(first, ("userFills", USER), "{}") == "Already subscribed: {}"
    assert subscriptions.refusal(first, ("webData2", other_user), "{}") == "Cannot track more than 1 total users"
    assert subscriptions.refusal(first, ("webData2", USER), "{}") is None
    subscriptions.add(second, ("trades", "ETH"), {})
    assert subscriptions.watched == {USER: 1, "ETH": 1}
    assert subscriptions.refusal(first, ("allMids",), "{}") == "Cannot track more than 2 total subscriptions"
    subscriptions.drop(second)
    assert subscriptions.refusal(first, ("allMids",), "{}") is None
    assert ("trades", "ETH") not in subscriptions and subscriptions.subscribers(("userFills", USER)) == {first}
    subscriptions.add(first, ("l2Book", "ETH", None), {})  # pushed on a cadence: no engine event feeds it
    subscriptions.add(first, ("webData2", USER), {})
    assert subscriptions.watched == {USER: 2}
    subscriptions.drop(first)
    assert subscriptions.watched == {} and list(subscriptions) == []
