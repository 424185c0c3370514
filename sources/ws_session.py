"""Keep one WebSocket subscription session alive: connect, subscribe, keep alive, reconnect.

The session knows nothing about market data. It hands every text frame to
``on_frame(text, recv_ts)`` and tells its owner when a connection was lost
(``on_lost``, once per outage however many reconnect attempts fail) and when
a new one is subscribed again (``on_subscribed``), so the owner can account
for what the outage missed.

* A keepalive ``{"method":"ping"}`` is sent every ``ping_interval_s``; when no
  frame (not even a ``pong``) arrives for ``stale_after_s`` the connection is
  considered dead and closed.
* A closed connection is re-opened with exponential backoff and jitter, and
  every subscription is sent again.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pairflow.config import CollectorSettings
from pairflow.hyperliquid.client import HyperliquidError, WsConnection
from pairflow.logs import get_logger
from pairflow.metrics import COLLECTOR_RECONNECTS

__all__ = ["WsSession"]

_log = get_logger(__name__)


@dataclass(eq=False)
class WsSession:
    """One self-healing WebSocket session with a fixed list of subscriptions.

    Parameters
    ----------
    settings
        URL, keepalive, staleness and backoff.
    subscriptions
        Subscription objects sent on every (re)connect.
    on_frame
        Called with every text frame and its receive time.
    on_lost, on_subscribed
        Called when a connection ends (once per outage) and when a new one is subscribed.
    clock
        Millisecond clock stamping receive times.
    """

    settings: CollectorSettings
    subscriptions: list[dict[str, Any]]
    on_frame: Callable[[str, int], None]
    on_lost: Callable[[], None]
    on_subscribed: Callable[[], None]
    clock: Callable[[], int]
    reconnects: int = field(default=0, init=False)
    _connection: WsConnection | None = field(default=None, init=False, repr=False)
    _last_frame_mono: float = field(default_factory=time.monotonic, init=False, repr=False)

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, read and reconnect until ``stop`` is set."""
        attempt = 0
        lost = False
        while not stop.is_set():
            connection = WsConnection(self.settings.url, open_timeout_s=min(10.0, self.settings.stale_after_s))
            try:
                await connection.connect()
                for subscription in self.subscriptions:
                    await connection.subscribe(subscription)
            except HyperliquidError as error:
                _log.warning("websocket connect failed", error=str(error), attempt=attempt)
                await connection.close()
            else:
                self._connection = connection
                self._last_frame_mono = time.monotonic()
                _log.info("websocket subscribed", url=connection.url, subscriptions=len(self.subscriptions))
                self.on_subscribed()
                lost = False
                attempt = 0
                await self._read(connection, stop)
                await self.drop()
            if stop.is_set():
                return
            if not lost:
                lost = True
                self.on_lost()
            self.reconnects += 1
            COLLECTOR_RECONNECTS.inc()
            delay = min(self.settings.reconnect_backoff_max_s, self.settings.reconnect_backoff_s * 2**attempt)
            attempt += 1
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay * (0.5 + random.random()))
            except TimeoutError:
                pass

    async def drop(self) -> None:
        """Close the current connection (while running, `run` then reconnects)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def _read(self, connection: WsConnection, stop: asyncio.Event) -> None:
        keepalive = asyncio.create_task(self._keepalive(connection))
        try:
            async for text in connection.frames():
                self._last_frame_mono = time.monotonic()
                self.on_frame(text, self.clock())
                if stop.is_set():
                    return
        finally:
            keepalive.cancel()
            await asyncio.gather(keepalive, return_exceptions=True)

    async def _keepalive(self, connection: WsConnection) -> None:
        ping_every = min(self.settings.ping_interval_s, self.settings.stale_after_s / 2)
        next_ping = time.monotonic() + ping_every
        while True:
            await asyncio.sleep(min(ping_every, self.settings.stale_after_s) / 4)
            now = time.monotonic()
            if now - self._last_frame_mono > self.settings.stale_after_s:
                _log.warning("websocket stale, reconnecting", silent_s=round(now - self._last_frame_mono, 1))
                await connection.close()
                return
            if now >= next_ping:
                next_ping = now + ping_every
                try:
                    await connection.ping()
                except HyperliquidError as error:
                    _log.warning("websocket ping failed", error=str(error))
                    await connection.close()
                    return
