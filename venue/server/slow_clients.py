"""Bound how long a client may take to send a request, so slow or stalled clients cannot pile up.

uvicorn bounds the idle time between keep-alive requests but not the time a
request takes to arrive: a socket that connects and sends nothing, or half a
request head, or part of a body, stays open for ever (50 such sockets were
still open after 65 s). `BoundedH11Protocol` gives every request a deadline,
from the connection (or the first byte of the next request on a kept-alive
connection) until the request is complete. Past it, a client whose request
head arrived is answered ``408 Request Timeout``; one whose head did not is
disconnected. The head itself is capped at `MAX_REQUEST_HEAD_BYTES` (HTTP 400
beyond it); bodies are capped by the app (`limits.MAX_BODY_BYTES`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from pairflow.logs import get_logger

__all__ = ["MAX_REQUEST_HEAD_BYTES", "REQUEST_READ_TIMEOUT_S", "BoundedH11Protocol"]

REQUEST_READ_TIMEOUT_S = 10.0
"""Seconds a client has to send one whole request (head and body)."""
MAX_REQUEST_HEAD_BYTES = 16 * 1024
"""Largest request line plus headers accepted; h11 answers HTTP 400 beyond it."""

_log = get_logger(__name__)
_RECEIVING = (h11.IDLE, h11.SEND_BODY)


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on reading each request.

    Parameters
    ----------
    read_timeout
        Seconds from connection (or the first byte of a request) until the request must be complete.
    *args, **kwargs
        What uvicorn passes to its protocol classes.
    """

    def __init__(self, *args: Any, read_timeout: float = REQUEST_READ_TIMEOUT_S, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = read_timeout
        self._read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._read_deadline is None:
            self._arm()
        super().data_received(data)
        if self.conn.their_state not in _RECEIVING or self.transport.is_closing():
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._disarm()  # the WebSocket protocol owns the transport from here on
        super().handle_websocket_upgrade(event)

    def _arm(self) -> None:
        self._read_deadline = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing() or self.conn.their_state not in _RECEIVING:
            return
        client = "%s:%d" % self.client if self.client else "unknown"
        head_received = self.conn.our_state is h11.SEND_RESPONSE and self.cycle is not None
        _log.info("closing slow HTTP client", client=client, timeout_s=self.read_timeout,
                  head_received=head_received)
        if head_received and not self.cycle.response_started:
            body = b"Request timeout: the request did not arrive in time"
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close"),
                       (b"content-length", str(len(body)).encode())]
            self.transport.write(self.conn.send(h11.Response(status_code=408, headers=headers)))
            self.transport.write(self.conn.send(h11.Data(data=body)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()
