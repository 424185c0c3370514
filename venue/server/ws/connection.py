"""One client socket: an outgoing frame queue drained by its own writer task, and its message rate."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

from starlette.websockets import WebSocket

from pairflow.logs import get_logger

__all__ = ["MAX_MESSAGES_PER_MINUTE", "MAX_QUEUED_FRAMES", "Connection"]

MAX_MESSAGES_PER_MINUTE = 2000
"""Client messages allowed per connection in any 60 s window (the real venue's cap)."""
MAX_QUEUED_FRAMES = 10_000
"""Frames a client may fall behind before it is closed as too slow."""

_log = get_logger(__name__)


class Connection:
    """A WebSocket the hub writes to without ever awaiting the client.

    ``send`` only queues; `write` (run as a task) sends in order. ``held`` collects
    live frames of a key whose snapshot is still being built, so none is lost
    or sent before the snapshot.
    """

    def __init__(self, websocket: WebSocket, ip: str) -> None:
        self.websocket = websocket
        self.ip = ip
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.held: dict[tuple, list[str]] = {}
        self.closed = False
        self._message_times: deque[float] = deque()

    def send(self, text: str) -> None:
        """Queue one frame; a client that fell `MAX_QUEUED_FRAMES` behind is closed instead."""
        if self.closed:
            return
        if self.queue.qsize() >= MAX_QUEUED_FRAMES:
            _log.warning("closing slow WebSocket client", ip=self.ip, frames_queued=self.queue.qsize())
            self.close()
            return
        self.queue.put_nowait(text)

    def close(self) -> None:
        """Stop sending; the writer closes the socket once it reaches the end of the queue."""
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)

    def over_message_rate(self) -> bool:
        """Count one client message and return whether the last 60 s exceed `MAX_MESSAGES_PER_MINUTE`."""
        now = time.monotonic()
        times = self._message_times
        times.append(now)
        while times and times[0] < now - 60.0:
            times.popleft()
        return len(times) > MAX_MESSAGES_PER_MINUTE

    async def write(self) -> None:
        """Send queued frames until `close` (then close the socket) or until sending fails."""
        while True:
            text = await self.queue.get()
            if text is None:
                with contextlib.suppress(Exception):
                    await self.websocket.close()
                return
            try:
                await self.websocket.send_text(text)
            except Exception:
                self.closed = True
                return
