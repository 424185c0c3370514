"""Per-IP WebSocket admission: open connections and new connections per minute.

The real venue allows each IP at most 10 open WebSocket connections and 30 new
ones per minute; a refused upgrade is answered with HTTP 429 before the
handshake completes, so the client sees the refusal as a failed connect.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ["MAX_CONNECTIONS_PER_IP", "MAX_NEW_CONNECTIONS_PER_MINUTE", "WsAdmission"]

MAX_CONNECTIONS_PER_IP = 10
MAX_NEW_CONNECTIONS_PER_MINUTE = 30


class WsAdmission:
    """Count open and recently opened connections per IP (used on the event loop thread only).

    Parameters
    ----------
    max_open
        Open connections allowed per IP; None means unlimited.
    max_new_per_minute
        Connections admitted per IP in any 60 s window; None means unlimited.
    clock
        Monotonic seconds (tests may pass their own).
    """

    def __init__(self, max_open: int | None = MAX_CONNECTIONS_PER_IP,
                 max_new_per_minute: int | None = MAX_NEW_CONNECTIONS_PER_MINUTE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_open = max_open
        self.max_new_per_minute = max_new_per_minute
        self._clock = clock
        self._open: dict[str, int] = {}
        self._admitted: dict[str, deque[float]] = {}

    def admit(self, ip: str) -> str | None:
        """Record a new connection from ``ip`` and return None, or return why it is refused."""
        open_now = self._open.get(ip, 0)
        if self.max_open is not None and open_now >= self.max_open:
            return f"Too many WebSocket connections: at most {self.max_open} open per IP"
        now = self._clock()
        admitted = self._admitted.setdefault(ip, deque())
        while admitted and admitted[0] <= now - 60.0:
            admitted.popleft()
        if self.max_new_per_minute is not None and len(admitted) >= self.max_new_per_minute:
            return f"Too many WebSocket connections: at most {self.max_new_per_minute} new per minute per IP"
        admitted.append(now)
        self._open[ip] = open_now + 1
        return None

    def release(self, ip: str) -> None:
        """Forget one closed connection of ``ip``."""
        left = self._open.get(ip, 0) - 1
        if left > 0:
            self._open[ip] = left
        else:
            self._open.pop(ip, None)
            if not self._admitted.get(ip, True):
                del self._admitted[ip]
