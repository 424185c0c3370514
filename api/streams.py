"""WebSocket fan-out: rows new in the store pushed to every subscribed client.

A poller reads each streamed table for rows newer than the last poll's
(an event-time cursor) and hands them to `StreamHub.publish`, which other
threads may also call directly. Each client has a bounded queue: a client
that does not keep up fills it and is disconnected (close code 1013) instead
of growing memory or slowing the others, which only ever do a non-blocking put.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from pairflow.storage import Store

__all__ = ["PUSHED", "STREAMED", "StreamHub", "poll_store"]

log = structlog.get_logger("api.streams")

# topic -> (table, columns sent)
STREAMED: dict[str, tuple[str, str]] = {
    "signals": ("signals", "ts, id, pair, hedge_ratio, spread, zscore, target, reason, legs"),
    "orders": ("orders", "ts, id, coin, cloid, is_buy, sz, limit_px, status, filled_sz, avg_px, reason"),
    "fills": ("fills", "ts, id, coin, px, sz, side, fee, closed_pnl"),
    "pnl": ("pnl", "ts, scope, realized_pnl, unrealized_pnl, fees, funding, equity"),
    "alerts": ("alerts", "ts, id, severity, source, message, coin"),
}
# Topics the server publishes itself (not polled from a table): launched backtests' progress.
PUSHED: tuple[str, ...] = ("backtests",)
CLOSE_TOO_SLOW = 1013


@dataclass(eq=False)
class _Client:
    topics: frozenset[str]
    queue: asyncio.Queue[str]
    dropped: asyncio.Event = field(default_factory=asyncio.Event)


class StreamHub:
    """Subscriptions of the connected clients; `publish` never blocks on any of them."""

    def __init__(self, queue_size: int = 256) -> None:
        self.queue_size = queue_size
        self._clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.disconnected_slow = 0

    @property
    def clients(self) -> int:
        """Return the number of connected clients."""
        return len(self._clients)

    def wanted(self, topic: str) -> bool:
        """Return True when some client subscribes to ``topic``."""
        return any(topic in client.topics for client in self._clients)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the server's event loop so other threads can publish into it."""
        self._loop = loop

    def publish(self, topic: str, rows: list[dict[str, Any]]) -> None:
        """Queue ``rows`` for every client of ``topic``; safe from any thread."""
        if not rows or self._loop is None:
            return
        message = json.dumps({"topic": topic, "rows": rows}, default=str)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._fan_out(topic, message)
        else:
            self._loop.call_soon_threadsafe(self._fan_out, topic, message)

    def _fan_out(self, topic: str, message: str) -> None:
        for client in list(self._clients):
            if topic not in client.topics or client.dropped.is_set():
                continue
            try:
                client.queue.put_nowait(message)
            except asyncio.QueueFull:
                client.dropped.set()
                self.disconnected_slow += 1
                log.warning("stream client too slow, disconnected", topics=sorted(client.topics))

    async def serve(self, socket: WebSocket, topics: Iterable[str]) -> None:
        """Send the client its topics until it disconnects or falls a full queue behind."""
        client = _Client(frozenset(topics), asyncio.Queue(self.queue_size))
        self._clients.add(client)
        sender = asyncio.create_task(self._send(socket, client))
        receiver = asyncio.create_task(self._drain(socket))
        dropped = asyncio.create_task(client.dropped.wait())
        try:
            await asyncio.wait({sender, receiver, dropped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._clients.discard(client)
            for task in (sender, receiver, dropped):
                task.cancel()
            if client.dropped.is_set():
                # The server's protocol bounds this handshake and aborts the connection when it cannot finish.
                with contextlib.suppress(Exception):
                    await socket.close(CLOSE_TOO_SLOW, f"client too slow: fell {self.queue_size} messages behind")

    @staticmethod
    async def _send(socket: WebSocket, client: _Client) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                await socket.send_text(await client.queue.get())

    @staticmethod
    async def _drain(socket: WebSocket) -> None:
        # Reading is how a disconnect is noticed; clients have nothing to say.
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                await socket.receive_text()


async def poll_store(hub: StreamHub, store: Store, every_s: float) -> None:
    """Publish rows stored since the previous poll, per streamed table, until cancelled.

    The cursor is event time plus the ids already sent at that time (not
    ``recv_ts``: events the desk makes carry none). A row stored later with an
    older time than the cursor is not streamed; REST still has it.
    """
    cursors: dict[str, tuple[int, set[str]]] = {}
    while True:
        await asyncio.sleep(every_s)
        for topic, (table, columns) in STREAMED.items():
            if not hub.wanted(topic):
                cursors.pop(topic, None)  # a topic nobody reads starts afresh: no backlog for its next client
                continue
            try:
                if topic not in cursors:
                    newest = await asyncio.to_thread(store.query, f"SELECT max(ts), groupArray(id) FROM {table}"
                                                     f" WHERE ts = (SELECT max(ts) FROM {table})")
                    cursors[topic] = (int(newest[0][0] or 0), set(newest[0][1]))
                    continue
                since, sent = cursors[topic]
                rows = await asyncio.to_thread(
                    store.query_dicts,
                    f"SELECT {columns}, id AS _id FROM {table} WHERE ts >= {{since:Int64}} ORDER BY ts, _id LIMIT 1000",
                    {"since": since},
                )
            except Exception as error:  # a store hiccup skips one poll; the cursor retries the same rows
                log.warning("stream poll failed", topic=topic, error=str(error))
                continue
            fresh = [row for row in rows if not (row["ts"] == since and row["_id"] in sent)]
            if not fresh:
                continue
            last = fresh[-1]["ts"]
            cursors[topic] = (last, {row["_id"] for row in rows if row["ts"] == last} | (sent if last == since else set()))
            hub.publish(topic, [{key: value for key, value in row.items() if key != "_id"} for row in fresh])
