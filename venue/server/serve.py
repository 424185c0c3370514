"""Serve the venue with uvicorn on a socket configured for low-latency request/response traffic.

`serve` blocks (``python -m venue.server``-style use); `BackgroundServer` runs the same
configuration in a thread for `venue.service.VenueService` and `tests.support.venue.run_venue`.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from typing import Any

import uvicorn

from .limits import MAX_WS_MESSAGE_BYTES
from .slow_clients import MAX_REQUEST_HEAD_BYTES, REQUEST_READ_TIMEOUT_S, BoundedH11Protocol

__all__ = ["BackgroundServer", "bind_socket", "uvicorn_config"]


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """Return a listening-ready TCP socket bound to ``(host, port)``; port 0 lets the OS choose.

    ``TCP_NODELAY`` is set on the listener because accepted sockets inherit it on
    Linux: without it a keep-alive client (the SDK's ``requests.Session``) waits
    ~40 ms per response, as the response head and body are written separately
    and the second write waits for a delayed ACK.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def uvicorn_config(app: Any, log_level: str = "warning",
                   read_timeout: float = REQUEST_READ_TIMEOUT_S) -> uvicorn.Config:
    """Return the uvicorn configuration the venue runs with.

    HTTP through `slow_clients.BoundedH11Protocol` (a request must arrive within ``read_timeout``
    seconds, its head within `slow_clients.MAX_REQUEST_HEAD_BYTES`); sans-io WebSockets with frames
    capped at `limits.MAX_WS_MESSAGE_BYTES` (the protocol layer refuses bigger ones before buffering
    them); a 2 s graceful stop.
    """
    return uvicorn.Config(app, log_level=log_level, http=functools.partial(BoundedH11Protocol, read_timeout=read_timeout),
                          h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES, ws="websockets-sansio",
                          ws_max_size=MAX_WS_MESSAGE_BYTES, lifespan="on", timeout_graceful_shutdown=2,
                          access_log=False)


class BackgroundServer:
    """Run uvicorn over ``app`` on an already bound socket in a daemon thread.

    Parameters
    ----------
    app
        The ASGI app (from `create_app`).
    sock
        A socket from `bind_socket`; the server owns it from now on and closes it in `stop`.
    log_level
        uvicorn's log level.
    read_timeout
        Seconds a client has to send a whole request (see `slow_clients`).
    """

    def __init__(self, app: Any, sock: socket.socket, log_level: str = "warning",
                 read_timeout: float = REQUEST_READ_TIMEOUT_S) -> None:
        self.sock = sock
        self.host, self.port = sock.getsockname()[:2]
        self._server = uvicorn.Server(uvicorn_config(app, log_level, read_timeout))  # no signal handlers off the main thread
        self._failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name=f"venue-http-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        """Return ``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self.sock])
        except BaseException as exc:  # reported by start()
            self._failure.append(exc)

    def start(self, timeout: float = 10.0) -> None:
        """Start serving and wait until requests are accepted.

        Raises
        ------
        RuntimeError
            When the server does not start within ``timeout`` seconds (the cause is chained when known);
            the server is stopped again first.
        """
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._failure or not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop(timeout)
                cause = self._failure[0] if self._failure else None
                raise RuntimeError(f"venue server on {self.host}:{self.port} did not start") from cause
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop serving (WebSocket clients included), close the socket; return whether the thread ended."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.sock.close()
        return not self._thread.is_alive()
