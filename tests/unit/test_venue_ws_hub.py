"""The WebSocket hub's engine side: batched hand-over to the loop, payloads built only for subscribers."""

from __future__ import annotations

import asyncio

from venue.engine import AssetSpec, Engine, EngineEvent
from venue.server.ws import Hub

USER = "0x" + "a" * 40


def test_hub_builds_no_payload_nobody_subscribed_to_and_stops_listening():
    engine = Engine([AssetSpec("ETH", 4, 25)], now_ms=1)
    built: list[str] = []

    def build(raw):
        built.append(raw)
        return [raw]

    async def scenario() -> None:
        hub = Hub(engine, push_interval=60.0)
        hub.start()
        assert len(engine.listeners) == 1
        for channel in ("fills", "orderUpdates", "trades"):
            hub.on_engine_event(EngineEvent(channel, USER if channel != "trades" else "ETH", channel, build))
        while hub._inbox:
            await asyncio.sleep(0)
        await hub.stop()

    asyncio.run(scenario())
    assert built == []
    assert engine.listeners == ()
