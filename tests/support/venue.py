"""Serve a venue in-process on a free port, for tests and benchmarks.

``run_venue`` starts uvicorn in a background thread on a socket bound to port
0 (so parallel test runs never collide), waits until it accepts requests, and
shuts it down cleanly — WebSocket clients included — when the block exits.
``SteppableClock`` is the clock tests serve it with: wall time they can move forward.
`RequestRecorder` keeps every JSON body the venue received, for tests that check
what a client sent.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from pairflow.clock import WALL_CLOCK
from venue.engine import AssetSpec, Engine
from venue.server.app import create_app
from venue.server.serve import BackgroundServer, bind_socket
from venue.server.slow_clients import REQUEST_READ_TIMEOUT_S

__all__ = ["ASSETS", "ORACLES", "RequestRecorder", "SteppableClock", "make_engine", "run_venue"]

STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 10.0
ASSETS = (AssetSpec("BTC", 5, 40), AssetSpec("ETH", 4, 25), AssetSpec("SOL", 2, 20))
"""BTC, ETH and SOL at asset indices 0, 1 and 2, with the real venue's size decimals and max leverage."""
ORACLES = {"BTC": 60_000.0, "ETH": 2_000.0, "SOL": 150.0}
"""Oracle prices the tests' venues start from (margin and marks need one per coin traded)."""


def make_engine(now_ms: int) -> Engine:
    """Return an engine over `ASSETS` with `ORACLES` set, starting at ``now_ms``."""
    engine = Engine(list(ASSETS), now_ms=now_ms)
    for coin, px in ORACLES.items():
        engine.set_oracle(coin, px)
    return engine


class SteppableClock:
    """Wall-clock milliseconds plus an offset that tests move forward.

    Pass it as the venue's ``clock`` (and a collector's) to reach scheduled
    cancels, triggers and funding hours without sleeping, while SDK nonces,
    which are wall-clock, stay inside the venue's nonce window.
    """

    def __init__(self) -> None:
        self.offset_ms = 0

    def __call__(self) -> int:
        return WALL_CLOCK.now_ms() + self.offset_ms

    def step(self, ms: int) -> None:
        """Move the clock forward by ``ms`` milliseconds."""
        self.offset_ms += ms


class RequestRecorder:
    """ASGI middleware appending ``(path, payload)`` for every HTTP request whose body is JSON.

    Parameters
    ----------
    app
        The ASGI app to wrap.
    log
        The list to append to.
    """

    def __init__(self, app: Callable[..., Any], log: list[tuple[str, Any]]) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording_receive() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    with contextlib.suppress(ValueError, RecursionError):
                        self.log.append((scope["path"], json.loads(b"".join(chunks))))
            return message

        await self.app(scope, recording_receive, send)


@contextlib.contextmanager
def run_venue(engine: Any, *, host: str = "127.0.0.1", log_level: str = "warning",
              request_log: list[tuple[str, Any]] | None = None, read_timeout: float = REQUEST_READ_TIMEOUT_S,
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
    request_log
        When given, every JSON request body is appended as ``(path, payload)``.
    read_timeout
        Seconds a client has to send a whole request (`venue.server.slow_clients`).
    **app_options
        Keyword arguments for `venue.server.app.create_app` (``clock``, ``ip_weight_per_minute``,
        ``push_interval``, ``advance_interval``, ...).

    Raises
    ------
    RuntimeError
        When the server does not start within 10 s (the cause is chained when known).
    """
    app: Any = create_app(engine, **app_options)
    if request_log is not None:
        app = RequestRecorder(app, request_log)
    server = BackgroundServer(app, bind_socket(host, 0), log_level, read_timeout)
    server.start(STARTUP_TIMEOUT_S)
    try:
        yield server.url
    finally:
        if not server.stop(SHUTDOWN_TIMEOUT_S):
            raise RuntimeError(f"venue server on {server.host}:{server.port} did not stop within {SHUTDOWN_TIMEOUT_S}s")
