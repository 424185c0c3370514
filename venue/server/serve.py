"""Serve the venue with uvicorn on a socket configured for low-latency request/response traffic."""

from __future__ import annotations

import socket
from typing import Any

import uvicorn

from .app import create_app
from .limits import MAX_WS_MESSAGE_BYTES

__all__ = ["bind_socket", "serve", "uvicorn_config"]


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """Return a listening-ready TCP socket bound to ``(host, port)``; port 0 lets the OS choose.

    ``TCP_NODELAY`` is set on the listener because accepted sockets inherit it on
    Linux: without it a keep-alive client (the SDK's ``requests.Session``) waits
    ~40 ms per response, as the response head and body are written separately
    and the second write waits for a delayed ACK.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def uvicorn_config(app: Any, log_level: str = "warning") -> uvicorn.Config:
    """Return the uvicorn configuration the venue runs with.

    Sans-io WebSockets with frames capped at `limits.MAX_WS_MESSAGE_BYTES` (the protocol layer
    refuses bigger ones before buffering them), and a 2 s graceful stop.
    """
    return uvicorn.Config(app, log_level=log_level, ws="websockets-sansio", ws_max_size=MAX_WS_MESSAGE_BYTES,
                          lifespan="on", timeout_graceful_shutdown=2, access_log=False)


def serve(engine: Any, host: str = "127.0.0.1", port: int = 3001, *, log_level: str = "info",
          **app_options: Any) -> None:
    """Serve ``engine`` until interrupted (blocking); ``app_options`` go to `create_app`.

    Port 3001 is the SDK's ``LOCAL_API_URL`` default, so ``constants.LOCAL_API_URL`` works as base URL.
    """
    sock = bind_socket(host, port)
    try:
        uvicorn.Server(uvicorn_config(create_app(engine, **app_options), log_level)).run(sockets=[sock])
    finally:
        sock.close()
