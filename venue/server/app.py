"""Build the venue's ASGI app: ``POST /info``, ``POST /exchange`` and ``/ws`` over one engine.

The HTTP layer is thin: read a bounded body, parse JSON keeping key order,
charge the per-IP weight, decode into typed requests, and run the handler in
a worker thread (signature recovery is CPU-bound and the engine lock may be
held by a market driver). Every refusal is a 4xx the SDK turns into
``ClientError``; nothing is recorded for a refused request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from pairflow.clock import WALL_CLOCK
from pairflow.hyperliquid.schemas import DESERIALIZE_ERROR, BadRequest, decode_info_request
from pairflow.logs import get_logger

from .body import BodyTooLarge, parse_json, read_limited_body
from .exchange import ExchangeService
from .info import InfoService
from .limits import MAX_BODY_BYTES
from .nonces import NonceTracker
from .ratelimit import AddressBudget, IpRateLimiter, exchange_weight, info_base_weight, info_extra_weight
from .ws import IDLE_TIMEOUT_S, MAX_SUBSCRIPTIONS, Hub, WsAdmission

__all__ = ["create_app"]

_log = get_logger(__name__)


def _json(value: Any) -> Response:
    return Response(msgspec.json.encode(value), media_type="application/json")


def _unprocessable(detail: str) -> Response:
    _log.info("refused request", reason=detail)
    return PlainTextResponse(DESERIALIZE_ERROR, status_code=422)


def _too_many() -> Response:
    return PlainTextResponse("Too many requests: per-IP weight limit reached", status_code=429)


def _info_type(payload: Any) -> str:
    info_type = payload.get("type") if isinstance(payload, dict) else None
    return info_type if isinstance(info_type, str) else ""


def _client_ip(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def create_app(
    engine: Any,
    *,
    clock: Callable[[], int] = WALL_CLOCK.now_ms,
    nonces: NonceTracker | None = None,
    ip_weight_per_minute: int | None = None,
    push_interval: float = 0.5,
    advance_interval: float | None = None,
    accept_mainnet_signatures: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
    address_budget: bool = True,
    ws_connections_per_ip: int | None = None,
    ws_new_connections_per_minute: int | None = None,
    ws_subscriptions_per_ip: int = MAX_SUBSCRIPTIONS,
    ws_idle_timeout: float | None = IDLE_TIMEOUT_S,
    books_every_step: bool = False,
) -> Starlette:
    """Return the ASGI app serving the Hyperliquid API over ``engine``.

    Parameters
    ----------
    engine
        A `venue.engine.Engine`; shared with other threads through ``engine.lock``.
    clock
        Exchange time in ms for nonce windows, ``expiresAfter`` and engine advancing.
    nonces
        Nonce state to continue from (e.g. restored from a snapshot); a fresh tracker by default.
    ip_weight_per_minute
        Per-IP REST weight budget (1200 on the real venue); None disables the limit.
    push_interval
        Seconds between WebSocket pushes of changed books, mids and asset contexts.
    advance_interval
        When set, call ``engine.advance(clock())`` this often so triggers, scheduled
        cancels and funding follow the clock; leave None when something else drives time.
    accept_mainnet_signatures
        Also accept signatures made for mainnet when the testnet recovery names no known signer.
    max_body_bytes
        Larger request bodies are refused with HTTP 413.
    address_budget
        Enforce the per-address action budget (10 000 requests + 1 per USDC traded, then one
        action per 10 s) from the engine's ``userRateLimit`` counters.
    ws_connections_per_ip, ws_new_connections_per_minute
        WebSocket caps per IP (10 open and 30 new per minute on the real venue; upgrades past them
        get HTTP 429); None disables a cap, the default, as for ``ip_weight_per_minute``.
    ws_subscriptions_per_ip
        Subscriptions one IP may hold over all its WebSocket connections (1000, as on the real venue).
    ws_idle_timeout
        Seconds of client silence after which a WebSocket is closed (60, as on the real venue); None keeps it.
    books_every_step
        Push ``l2Book`` and changed ``activeAssetCtx`` after every market step, not every ``push_interval``: pass
        ``app.state.hub.router.on_step`` to the driver loop as its ``after_step``.
    """
    nonces = nonces if nonces is not None else NonceTracker()
    networks = (False, True) if accept_mainnet_signatures else (False,)
    info_service = InfoService(engine, clock)
    exchange_service = ExchangeService(engine, nonces, clock, networks,
                                       AddressBudget() if address_budget else None)
    limiter = IpRateLimiter(ip_weight_per_minute) if ip_weight_per_minute is not None else None

    def ws_post(kind: str, payload: Any) -> dict[str, Any]:
        try:
            if kind == "info":
                typed = decode_info_request(payload)
                return {"type": "info", "payload": {"type": payload["type"], "data": info_service.handle(typed)}}
            return {"type": "action", "payload": exchange_service.handle(payload)}
        except BadRequest as exc:
            _log.info("refused WebSocket post", reason=exc.detail)
            return {"type": "error", "payload": DESERIALIZE_ERROR}

    hub = Hub(engine, push_interval=push_interval, post_handler=ws_post,
              admission=WsAdmission(ws_connections_per_ip, ws_new_connections_per_minute),
              max_subscriptions_per_ip=ws_subscriptions_per_ip, idle_timeout=ws_idle_timeout,
              books_every_step=books_every_step)

    async def admitted(
        request: Request, malformed_weight: int, weight: Callable[[Any], int]
    ) -> tuple[str, Any] | Response:
        """Return the client's IP and the request's JSON payload, or the response refusing it (413, 429 or 422).

        A malformed body still costs ``malformed_weight``, so garbage cannot be sent for free; a
        well-formed one costs ``weight(payload)`` before it is handled. A client that went away (or
        was cut off as too slow) mid-body gets a response nobody reads.
        """
        ip = _client_ip(request)
        payload = await admitted_payload(request, ip, malformed_weight)
        if isinstance(payload, Response):
            return payload
        if limiter is not None and not limiter.try_acquire(ip, weight(payload)):
            return _too_many()
        return ip, payload

    async def admitted_payload(request: Request, ip: str, malformed_weight: int) -> Any:
        try:
            return parse_json(await read_limited_body(request, max_body_bytes))
        except ClientDisconnect:
            _log.info("client disconnected before its request arrived", ip=ip, path=request.url.path)
            return Response(status_code=400)
        except BodyTooLarge as exc:
            return PlainTextResponse(f"Payload too large: {exc}", status_code=413)
        except BadRequest as exc:
            if limiter is not None and not limiter.try_acquire(ip, malformed_weight):
                return _too_many()
            return _unprocessable(exc.detail)

    async def info(request: Request) -> Response:
        admission = await admitted(request, 20, lambda payload: info_base_weight(_info_type(payload)))
        if isinstance(admission, Response):
            return admission
        ip, payload = admission
        try:
            typed = decode_info_request(payload)
            result = await run_in_threadpool(info_service.handle, typed)
        except BadRequest as exc:
            return _unprocessable(exc.detail)
        if limiter is not None:
            limiter.charge(ip, info_extra_weight(_info_type(payload), result))
        return _json(result)

    async def exchange(request: Request) -> Response:
        admission = await admitted(
            request, 1, lambda payload: exchange_weight(payload.get("action") if isinstance(payload, dict) else None)
        )
        if isinstance(admission, Response):
            return admission
        _, payload = admission
        try:
            result = await run_in_threadpool(exchange_service.handle, payload)
        except BadRequest as exc:
            return _unprocessable(exc.detail)
        return _json(result)

    async def websocket(socket: WebSocket) -> None:
        await hub.serve(socket)

    async def advance_periodically() -> None:
        while True:
            await asyncio.sleep(advance_interval)
            try:
                await run_in_threadpool(_advance, engine, clock)
            except Exception:
                _log.exception("engine.advance failed")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub.start()
        ticker = asyncio.create_task(advance_periodically()) if advance_interval is not None else None
        try:
            yield
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
            await hub.stop()

    app = Starlette(
        routes=[
            Route("/info", info, methods=["POST"]),
            Route("/exchange", exchange, methods=["POST"]),
            WebSocketRoute("/ws", websocket),
        ],
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.nonces = nonces
    app.state.hub = hub
    return app


def _advance(engine: Any, clock: Callable[[], int]) -> None:
    now = clock()
    with engine.lock:
        if now > engine.now_ms:
            engine.advance(now)
