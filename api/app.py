"""The FastAPI application: REST under /api, WebSocket streams at /api/ws, the built UI at /.

CORS is closed unless origins are configured; validation errors answer 422
with the failing fields, unknown ids 404, a missing token 401 and a client
that keeps failing 429.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import FastAPI, Query, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.backtests import BacktestJobs, backtest_router
from api.context import ApiContext
from api.controls import control_router
from api.reads import read_router
from api.streams import PUSHED, STREAMED, StreamHub, poll_store
from pairflow.errors import StorageError

__all__ = ["create_app"]

CLOSE_POLICY = 1008
# A longer topics list is refused (after the handshake, so the client reads why) rather than parsed.
_TOPICS_LENGTH = 200


def create_app(ctx: ApiContext, cors_origins: list[str] | None = None) -> FastAPI:
    """Build the app over ``ctx``; the hub's poller runs while the app is served."""
    hub = StreamHub(ctx.ws_queue_size)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        poller = asyncio.create_task(poll_store(hub, ctx.store, ctx.poll_s))
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await poller

    app = FastAPI(title="pairflow", summary="Watch and steer pairflow: spreads, orders, risk, controls.",
                  version="1", lifespan=lifespan)
    app.state.hub = hub
    app.state.ctx = ctx
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.exception_handler(StorageError)
    async def storage_failed(_request: object, error: StorageError) -> JSONResponse:
        return JSONResponse({"detail": f"store unavailable: {error}"}, status_code=503)

    jobs = BacktestJobs(ctx.launch_backtest, hub.publish, ctx.clock) if ctx.launch_backtest is not None else None
    app.include_router(backtest_router(ctx, jobs))
    app.include_router(read_router(ctx))
    app.include_router(control_router(ctx, jobs))

    @app.websocket("/api/ws")
    async def stream(
        socket: WebSocket,
        topics: Annotated[str, Query(description="Comma-separated: " + ", ".join([*STREAMED, *PUSHED]))] = "signals",
    ) -> None:
        """Push new rows of the chosen topics as ``{"topic", "rows"}`` JSON messages."""
        wanted = [topic for topic in topics[:_TOPICS_LENGTH].split(",") if topic]
        try:
            ctx.guard.check_socket(socket)
        except StarletteHTTPException as error:
            await socket.close(CLOSE_POLICY, error.detail)
            return
        unknown = sorted(set(wanted) - set(STREAMED) - set(PUSHED))
        await socket.accept()
        if len(topics) > _TOPICS_LENGTH:
            await socket.close(CLOSE_POLICY, f"topics: at most {_TOPICS_LENGTH} characters")
            return
        if unknown or not wanted:
            # Accepted first: a close before the handshake reaches a client as a bare HTTP 403, without the reason.
            reason = f"choose topics from {','.join(sorted([*STREAMED, *PUSHED]))}; unknown: {','.join(unknown)}"
            await socket.close(CLOSE_POLICY, _close_reason(reason))
            return
        await hub.serve(socket, wanted)

    if ctx.web_dir is not None and (ctx.web_dir / "index.html").is_file():
        _serve_ui(app, ctx)
    return app


def _close_reason(text: str) -> str:
    """Cut ``text`` to the 123 bytes of UTF-8 a WebSocket close frame carries (a longer one fails the close).

    >>> len(_close_reason("é" * 100).encode())
    122
    """
    return text.encode()[:123].decode(errors="ignore")


def _serve_ui(app: FastAPI, ctx: ApiContext) -> None:
    assert ctx.web_dir is not None
    index = ctx.web_dir / "index.html"
    app.mount("/assets", StaticFiles(directory=ctx.web_dir / "assets", check_dir=False), name="assets")

    @app.get("/{page:path}", include_in_schema=False)
    def ui(page: str) -> FileResponse:
        # Client-side routes (/spreads, /orders, ...) all load the single page; unknown API paths stay 404.
        if page.startswith("api/"):
            raise StarletteHTTPException(404, "Not Found")
        return FileResponse(index)
