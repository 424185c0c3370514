"""Serve a venue in-process on a free port, for tests and benchmarks.

``run_venue`` starts uvicorn in a background thread on a socket bound to port
0 (so parallel test runs never collide), waits until it accepts requests, and
shuts it down cleanly — WebSocket clients included — when the block exits.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from .app import create_app
from .serve import bind_socket, uvicorn_config

__all__ = ["run_venue"]

STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 10.0


@contextlib.contextmanager
def run_venue(engine: Any, *, host: str = "127.0.0.1", log_level: str = "warning",
              **app_options: Any) -> Iterator[str]:
    """Serve ``engine`` over HTTP + WebSocket and yield the base URL (``http://127.0.0.1:<port>``).

    Pass the yielded URL as ``base_url`` to the SDK's ``Info`` / ``Exchange``.

    Parameters
    ----------
    engine
        The `venue.engine.Engine` to serve.
    host
        Interface to bind; the port is always chosen by the OS.
    log_level
        uvicorn's log level.
    **app_options
        Keyword arguments for `venue.server.app.create_app` (``clock``, ``ip_weight_per_minute``,
        ``push_interval``, ``advance_interval``, ...).

    Raises
    ------
    RuntimeError
        When the server does not start within 10 s (the cause is chained when known).
    """
    app = create_app(engine, **app_options)
    sock = bind_socket(host, 0)
    port = sock.getsockname()[1]
    config = uvicorn_config(app, log_level)
    server = uvicorn.Server(config)  # skips signal handlers off the main thread
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=serve, name=f"venue-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if failure or not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(SHUTDOWN_TIMEOUT_S)
            sock.close()
            cause = failure[0] if failure else None
            raise RuntimeError(f"venue server on {host}:{port} did not start") from cause
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT_S)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"venue server on {host}:{port} did not stop within {SHUTDOWN_TIMEOUT_S}s")
