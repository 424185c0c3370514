"""Serve the app with uvicorn in a background thread (the demo) or in the foreground (`pairflow api`).

Embedded chDB admits one process, so the demo serves the API from its own
process; `ApiServer` runs uvicorn's loop on a daemon thread and reports the
port it bound. HTTPS is served when a certificate and key are given. HTTP
keep-alive and WebSocket pings time out idle or dead peers, like the venue.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn
from fastapi import FastAPI

__all__ = ["ApiServer"]


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
            app, host=host, port=port, log_level="warning", ws_ping_interval=20, ws_ping_timeout=20,
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

    def join(self) -> None:
        """Wait until the server stops (Ctrl-C reaches the caller)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
