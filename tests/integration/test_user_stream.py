"""The user stream over the venue's WebSocket: fills, order updates and funding arrive; a drop gives a reconnect cue."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import eth_account

from pairflow.events import Fill, Order
from pairflow.hyperliquid.exchange_client import ExchangeClient
from pairflow.hyperliquid.signer import L1Signer
from sinks.executor import HyperliquidExecutor, LegOrder
from sources.user_stream import Reconnected, user_stream
from tests.integration.test_order_router import ASSETS, MARKS
from tests.support.venue import SteppableClock
from venue.engine import Engine, Limit, OrderRequest, Tif
from venue.server.app import create_app
from venue.server.serve import BackgroundServer, bind_socket


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_fills_and_order_updates_stream_in_and_a_dropped_socket_reconnects() -> None:
    clock = SteppableClock()
    engine = Engine(ASSETS, now_ms=clock())
    for coin, px in MARKS.items():
        engine.set_oracle(coin, px)
    maker, trader = eth_account.Account.create(), eth_account.Account.create()
    engine.fund(maker.address, 1_000_000)
    engine.fund(trader.address, 100_000)
    engine.place_orders(maker.address, [OrderRequest(1, False, "2001", "5", False, Limit(Tif.GTC))])

    def serve(port: int = 0) -> BackgroundServer:
        server = BackgroundServer(create_app(engine, clock=clock, push_interval=0.02, advance_interval=0.02),
                                  bind_socket("127.0.0.1", port), "warning", 5.0)
        server.start(10.0)
        return server

    server = serve()
    port = server.port
    executor = HyperliquidExecutor(ExchangeClient(server.url, L1Signer(bytes(trader.key))), trader.address)

    async def scenario() -> list:
        nonlocal server
        stop, got = asyncio.Event(), []

        async def consume() -> None:
            async for event in user_stream(server.url, trader.address, stop, retry_s=0.1):
                got.append(event)

        task = asyncio.create_task(consume())
        await until(lambda: any(isinstance(e, Reconnected) for e in got))
        cloid = "0x" + "12" * 16
        await asyncio.to_thread(executor.place, [LegOrder("ETH", True, 0.5, 2010.0, cloid, tif="Ioc")])
        await until(lambda: any(isinstance(e, Fill) and e.cloid == cloid for e in got))
        await asyncio.to_thread(server.stop, 10.0)
        server = await asyncio.to_thread(serve, port)
        await until(lambda: sum(isinstance(e, Reconnected) for e in got) == 2)
        stop.set()
        task.cancel()
        return got

    try:
        got = asyncio.run(scenario())
    finally:
        server.stop(10.0)
    fills = [e for e in got if isinstance(e, Fill)]
    assert fills[0].sz == 0.5 and fills[0].px == 2001.0 and fills[0].side == "B" and fills[0].id.isdigit()
    assert [e.attempt for e in got if isinstance(e, Reconnected)] == [1, 2]
    assert [(e.status, e.filled_sz) for e in got if isinstance(e, Order)] == [("filled", 0.5)]
