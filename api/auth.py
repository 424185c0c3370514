"""Bearer-token checks: constant-time comparison, failed attempts rate-limited and logged.

A wrong token costs the client one slot of a per-address budget; once the
budget is spent the client gets 429 until the window passes, so guessing a
token over the network is hopeless. The token is compared with
`hmac.compare_digest` so its bytes cannot be learnt from response times.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque

import structlog
from fastapi import HTTPException, Request, WebSocket

__all__ = ["TokenGuard"]

log = structlog.get_logger("api.auth")


class TokenGuard:
    """Checks ``Authorization: Bearer <token>`` (or ``?token=`` on WebSockets, which browsers cannot add headers to).

    ``reads_need_token`` extends the check to GET endpoints and streams;
    state-changing calls always need it.
    """

    def __init__(self, token: str, reads_need_token: bool = False, max_failures: int = 10, window_s: float = 60.0) -> None:
        if len(token) < 16:
            raise ValueError("the API token must be at least 16 characters")
        self._token = token.encode()
        self.reads_need_token = reads_need_token
        self._max_failures = max_failures
        self._window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, presented: str | None, client: str) -> None:
        """Raise 401 for a missing or wrong token and 429 when ``client`` failed too often."""
        now = time.monotonic()
        with self._lock:
            recent = self._failures.get(client)
            while recent and now - recent[0] > self._window_s:
                recent.popleft()
            if recent is not None and len(recent) >= self._max_failures:
                raise HTTPException(429, "too many failed token attempts; wait a minute")
        if presented is not None and hmac.compare_digest(presented.encode(), self._token):
            return
        with self._lock:
            self._failures.setdefault(client, deque()).append(now)
        log.warning("api token refused", client=client, reason="missing" if presented is None else "wrong")
        raise HTTPException(401, "missing or wrong API token", headers={"WWW-Authenticate": "Bearer"})

    def require(self, request: Request) -> None:
        """FastAPI dependency for state-changing endpoints."""
        self.check(_bearer(request.headers.get("authorization")), _client(request))

    def require_for_reads(self, request: Request) -> None:
        """FastAPI dependency for read endpoints: checks only when reads need the token.

        A read also takes the token as ``?token=``: a link the browser opens itself (a run's HTML
        report) cannot carry a header, just as a WebSocket cannot.
        """
        if self.reads_need_token:
            presented = _bearer(request.headers.get("authorization")) or request.query_params.get("token")
            self.check(presented, _client(request))

    def check_socket(self, socket: WebSocket) -> None:
        """Check a WebSocket's ``token`` query parameter when reads need the token."""
        if self.reads_need_token:
            self.check(socket.query_params.get("token"), socket.client.host if socket.client else "?")


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"
