"""The ``/ws`` session: admit a socket, answer its messages, subscribe and unsubscribe it.

Frames follow the real venue (PROTOCOL §7) so the SDK's ``ws_msg_to_identifier``
routes every one of them: channel names, where the coin/user identifier sits,
``user`` as the channel of ``userEvents``, a single candle object per
``candle`` frame, ``isSnapshot: true`` on the first ``userFills`` frame.
All connection state lives on the event loop thread; engine queries run in
worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from pairflow.hyperliquid.schemas import WS_CONNECTED_TEXT, BadRequest
from pairflow.logs import get_logger

from ..body import parse_json
from ..limits import MAX_WS_MESSAGE_BYTES
from .admission import WsAdmission
from .connection import Connection
from .frames import FrameBuilder, encode
from .router import Router
from .subscriptions import MAX_SUBSCRIPTIONS, Key, SubscriptionError, Subscriptions, subscription_key

__all__ = ["IDLE_TIMEOUT_S", "Hub"]

IDLE_TIMEOUT_S = 60.0
"""The real venue closes a connection that has sent nothing for this long (the SDK pings every 50 s)."""

_log = get_logger(__name__)


class Hub:
    """Serve WebSocket clients of one engine.

    Parameters
    ----------
    engine
        The `venue.engine.Engine` (queried under ``engine.lock``).
    push_interval
        Seconds between ``l2Book`` pushes (and checks for changed ``allMids`` / ``activeAssetCtx``).
    books_every_step
        Push ``l2Book`` and changed ``activeAssetCtx`` after every market step instead (the driver loop
        calls ``router.on_step``).
    post_handler
        Answers ``{"method":"post"}`` requests: called in a worker thread with the request type
        (``"info"`` or ``"action"``) and payload, returns the ``response`` object of the ``post`` frame.
        Without it posts are refused with an ``error`` frame.
    admission
        Per-IP caps on open and new connections; unlimited by default.
    max_subscriptions_per_ip
        Subscriptions one IP may hold over all its connections.
    idle_timeout
        Seconds after which a connection that sent nothing is closed; None never closes it.
    """

    def __init__(self, engine: Any, push_interval: float = 0.5,
                 post_handler: Callable[[str, Any], Any] | None = None, *,
                 admission: WsAdmission | None = None, max_subscriptions_per_ip: int = MAX_SUBSCRIPTIONS,
                 idle_timeout: float | None = IDLE_TIMEOUT_S, books_every_step: bool = False) -> None:
        self.post_handler = post_handler
        self.admission = admission if admission is not None else WsAdmission(None, None)
        self.idle_timeout = idle_timeout
        self.subscriptions = Subscriptions(max_subscriptions_per_ip)
        self.frames = FrameBuilder(engine)
        self.router = Router(engine, self.subscriptions, self.frames, push_interval, books_every_step)
        self._connections: set[Connection] = set()

    def start(self) -> None:
        """Start routing engine events (call on the serving event loop)."""
        self.router.start()

    async def stop(self) -> None:
        """Stop routing and close every connection."""
        await self.router.stop()
        for connection in list(self._connections):
            connection.close()
        await asyncio.sleep(0)

    async def serve(self, websocket: WebSocket) -> None:
        """Run one client connection until it closes, goes idle, or is refused admission (HTTP 429)."""
        ip = websocket.client.host if websocket.client is not None else "unknown"
        refusal = self.admission.admit(ip)
        if refusal is not None:
            _log.info("refused WebSocket", ip=ip, reason=refusal)
            await websocket.send_denial_response(PlainTextResponse(refusal, status_code=429))
            return
        try:
            await self._serve_admitted(websocket, ip)
        finally:
            self.admission.release(ip)

    async def _serve_admitted(self, websocket: WebSocket, ip: str) -> None:
        await websocket.accept()
        connection = Connection(websocket, ip)
        self._connections.add(connection)
        writer = asyncio.get_running_loop().create_task(connection.write())
        connection.send(WS_CONNECTED_TEXT)
        try:
            while not connection.closed:
                try:
                    async with asyncio.timeout(self.idle_timeout):
                        message = await websocket.receive()
                except TimeoutError:
                    _log.info("closing idle WebSocket", ip=ip, idle_seconds=self.idle_timeout)
                    break
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", "replace")
                await self._handle_message(connection, text)
        except WebSocketDisconnect:
            pass
        finally:
            self._connections.discard(connection)
            self.subscriptions.drop(connection)
            connection.close()
            with contextlib.suppress(Exception):
                await writer
            with contextlib.suppress(Exception):
                await websocket.close()

    def _error(self, connection: Connection, text: str) -> None:
        connection.send(encode({"channel": "error", "data": text}))

    async def _handle_message(self, connection: Connection, text: str) -> None:
        if len(text) > MAX_WS_MESSAGE_BYTES:
            self._error(connection, "Message too large")
            return
        if connection.over_message_rate():
            self._error(connection, "Too many messages")
            connection.close()
            return
        invalid = f"Error parsing JSON into valid websocket request: {text}"
        try:
            message = parse_json(text)
        except BadRequest:
            self._error(connection, invalid)
            return
        if not isinstance(message, dict):
            self._error(connection, invalid)
            return
        method = message.get("method")
        if method == "ping":
            connection.send('{"channel":"pong"}')
            return
        if method == "post":
            await self._post(connection, message, invalid)
            return
        if method not in ("subscribe", "unsubscribe"):
            self._error(connection, invalid)
            return
        subscription = message.get("subscription")
        try:
            key = subscription_key(subscription)
        except SubscriptionError:
            self._error(connection, invalid)
            return
        if method == "subscribe":
            await self._subscribe(connection, key, subscription)
        else:
            self._unsubscribe(connection, key, subscription)

    async def _post(self, connection: Connection, message: dict[str, Any], invalid: str) -> None:
        request_id, request = message.get("id"), message.get("request")
        if (type(request_id) is not int or not isinstance(request, dict)
                or request.get("type") not in ("info", "action") or "payload" not in request):
            self._error(connection, invalid)
            return
        if self.post_handler is None:
            self._error(connection, "Post requests are not supported by this venue")
            return
        try:
            response = await asyncio.to_thread(self.post_handler, request["type"], request["payload"])
        except Exception:
            _log.exception("WebSocket post failed")
            response = {"type": "error", "payload": "Internal error"}
        connection.send(encode({"channel": "post", "data": {"id": request_id, "response": response}}))

    async def _subscribe(self, connection: Connection, key: Key, subscription: dict[str, Any]) -> None:
        refusal = self.subscriptions.refusal(connection, key, encode(subscription))
        if refusal is not None:
            self._error(connection, refusal)
            return
        echo = dict(subscription)
        if key[0] == "userFills":
            echo.setdefault("aggregateByTime", False)
        # Register before taking the snapshot and hold live frames until it is sent, so an event that
        # happens meanwhile is delivered (possibly also inside the snapshot) rather than lost.
        connection.held[key] = []
        self.subscriptions.add(connection, key, echo)
        try:
            snapshot = await asyncio.to_thread(self.frames.snapshot, key)
        except Exception as exc:
            _log.info("subscription refused", key=repr(key), reason=str(exc))
            connection.held.pop(key, None)
            self.subscriptions.remove(connection, key)
            self._error(connection, f"Invalid subscription {encode(subscription)}: {exc}")
            return
        connection.send(encode({"channel": "subscriptionResponse",
                                "data": {"method": "subscribe", "subscription": echo}}))
        for frame in snapshot:
            connection.send(encode(frame))
        for text in connection.held.pop(key, ()):
            connection.send(text)
        if snapshot:
            self.router.remember_sent(key, snapshot[0])

    def _unsubscribe(self, connection: Connection, key: Key, subscription: dict[str, Any]) -> None:
        if not self.subscriptions.has(connection, key):
            self._error(connection, f"Already unsubscribed: {encode(subscription)}")
            return
        self.subscriptions.remove(connection, key)
        connection.send(encode({"channel": "subscriptionResponse",
                                "data": {"method": "unsubscribe", "subscription": subscription}}))
