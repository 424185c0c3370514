"""Serve the app with uvicorn in a background thread (the demo) or in the foreground (`pairflow api`).

Embedded chDB admits one process, so the demo serves the API from its own
process; `ApiServer` runs uvicorn's loop on a daemon thread and reports the
port it bound. HTTPS is served when a certificate and key are given. HTTP
keep-alive and WebSocket pings time out idle or dead peers, like the venue.

A stream client the hub drops for being too slow may have stopped reading
altogether; uvicorn would then hold its close frame until the socket drains,
which it never does, so the connection lingered until the 20 s ping.
`_BoundedClose` aborts such a connection at once, and gives a client that
still reads `CLOSE_TIMEOUT_S` to answer the close frame (code and reason
reach it) before aborting.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["CLOSE_TIMEOUT_S", "ApiServer"]

CLOSE_TIMEOUT_S = 1.0


class _BoundedClose(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol ('auto' picks it) with a closing handshake that cannot hang on a stalled peer."""

    async def send(self, message: Any) -> None:
        if message["type"] == "websocket.close" and self.handshake_complete and not self.writable.is_set():
            self.transport.abort()  # the peer takes no bytes: a close frame would wait behind the unread ones
            return
        await super().send(message)
        if message["type"] == "websocket.close" and self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = self.loop.call_later(CLOSE_TIMEOUT_S, self.transport.abort)


class ApiServer:
    """One uvicorn server for ``app``; `start` returns its base URL."""

    def __init__(
        self, app: FastAPI, host: str = "127.0.0.1", port: int = 0,
        certfile: Path | None = None, keyfile: Path | None = None,
    ) -> None:
        if (certfile is None) != (keyfile is None):
            raise ValueError("HTTPS needs both a certificate and its key")
        self.scheme = "https" if certfile is not None else "http"
        self._config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", ws=_BoundedClose, ws_ping_interval=20, ws_ping_timeout=20,
            timeout_keep_alive=5, ssl_certfile=certfile, ssl_keyfile=keyfile, lifespan="on",
        )
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the base URL the server listens on."""
        (socket,) = [s for server in self._server.servers for s in server.sockets][:1]
        host, port = socket.getsockname()[:2]
        return f"{self.scheme}://{host}:{port}"

    @property
    def open_connections(self) -> int:
        """Return how many client connections (HTTP and WebSocket) the server holds now."""
        return len(self._server.server_state.connections)

    def start(self, timeout_s: float = 15.0) -> str:
        """Serve in a daemon thread; return the URL once it listens."""
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self.url

    def join(self, stop: threading.Event) -> None:
        """Wait until the server stops or ``stop`` is set (the caller's stop signal)."""
        while self._thread is not None and self._thread.is_alive() and not stop.wait(0.5):
            pass

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
