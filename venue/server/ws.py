"""``/ws``: Hyperliquid WebSocket subscriptions fed by engine events.

Frames follow the real venue (PROTOCOL §7) so the SDK's ``ws_msg_to_identifier``
routes every one of them: channel names, where the coin/user identifier sits,
``user`` as the channel of ``userEvents``, a single candle object per
``candle`` frame, ``isSnapshot: true`` on the first ``userFills`` frame.

Threading: engine listeners run on whichever thread moved the engine, under
its lock. The listener only hands the event to the event loop with
``call_soon_threadsafe``; all connection state lives on the loop thread, and
engine queries (snapshots, books, contexts) run in worker threads so a market
driver holding the engine lock never stalls the loop. ``l2Book`` is pushed for
every subscribed book at a fixed cadence, ``allMids`` and ``activeAssetCtx`` at
that cadence when they changed, and ``bbo`` as soon as it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec
from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from pairflow.hyperliquid.schemas import CANDLE_INTERVALS, WS_CONNECTED_TEXT, BadRequest

from .body import parse_json
from .limits import MAX_WS_MESSAGE_BYTES
from .ws_admission import WsAdmission

__all__ = ["Hub", "SubscriptionError", "subscription_key"]

log = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 1000
"""Subscriptions allowed per IP, summed over its connections."""
IDLE_TIMEOUT_S = 60.0
"""The real venue closes a connection that has sent nothing for this long (the SDK pings every 50 s)."""
MAX_USERS = 10
MAX_MESSAGES_PER_MINUTE = 2000
MAX_QUEUED_FRAMES = 10_000
_COIN_TYPES = {"l2Book", "trades", "bbo", "activeAssetCtx"}
_USER_TYPES = {"userEvents", "userFills", "orderUpdates", "userFundings", "userNonFundingLedgerUpdates", "webData2"}

Key = tuple


class SubscriptionError(Exception):
    """Raised when a subscription object is not one the venue understands."""


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 100:
        raise SubscriptionError(f"{name} must be a non-empty string")
    return value


def _user(value: Any) -> str:
    text = _text(value, "user")
    if len(text) != 42 or not text.startswith("0x"):
        raise SubscriptionError("user must be a 0x-prefixed 20-byte address")
    try:
        int(text[2:], 16)
    except ValueError:
        raise SubscriptionError("user must be a 0x-prefixed 20-byte address") from None
    return text.lower()


def subscription_key(subscription: Any) -> Key:
    """Return the routing key of a subscribe/unsubscribe object or raise `SubscriptionError`.

    The key holds what selects frames: the coin exactly as sent (the SDK already
    maps display names to internal coins), users lowercased.
    """
    if not isinstance(subscription, dict):
        raise SubscriptionError("subscription must be an object")
    kind = subscription.get("type")
    if kind == "allMids":
        return ("allMids",)
    if kind in _COIN_TYPES:
        coin = _text(subscription.get("coin"), "coin")
        if kind == "l2Book":
            sig_figs = subscription.get("nSigFigs")
            if sig_figs is not None and (type(sig_figs) is not int or not 2 <= sig_figs <= 5):
                raise SubscriptionError("nSigFigs must be 2..5 or null")
            return ("l2Book", coin, sig_figs)
        return (kind, coin)
    if kind == "candle":
        interval = subscription.get("interval")
        if interval not in CANDLE_INTERVALS:
            raise SubscriptionError("interval is not a candle interval")
        return ("candle", _text(subscription.get("coin"), "coin"), interval)
    if kind in _USER_TYPES:
        return (kind, _user(subscription.get("user")))
    if kind == "activeAssetData":
        return ("activeAssetData", _text(subscription.get("coin"), "coin"), _user(subscription.get("user")))
    raise SubscriptionError(f"unknown subscription type {kind!r}")


def _is_spot(coin: str) -> bool:
    return coin.startswith("@") or "/" in coin


def _change_token(key: Key, data: Any) -> Any:
    """Return what must differ for a frame to count as a change (a bbo's levels, not its time)."""
    return data.get("bbo") if key[0] == "bbo" else data


def _encode(frame: dict[str, Any]) -> str:
    return msgspec.json.encode(frame).decode()


class Connection:
    """One client socket: its subscriptions and an outgoing frame queue drained by a writer task."""

    def __init__(self, websocket: WebSocket, ip: str) -> None:
        self.websocket = websocket
        self.ip = ip
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.subscriptions: dict[Key, dict[str, Any]] = {}
        self.held: dict[Key, list[str]] = {}
        self.message_times: deque[float] = deque()
        self.closed = False

    def send(self, text: str) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= MAX_QUEUED_FRAMES:
            log.warning("closing slow WebSocket client: %d frames queued", self.queue.qsize())
            self.close()
            return
        self.queue.put_nowait(text)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)

    def users(self) -> set[str]:
        found = set()
        for key in self.subscriptions:
            if key[0] in _USER_TYPES:
                found.add(key[1])
            elif key[0] == "activeAssetData":
                found.add(key[2])
        return found


class Hub:
    """Route engine events to WebSocket subscribers.

    Parameters
    ----------
    engine
        The `venue.engine.Engine` (queried under ``engine.lock``).
    push_interval
        Seconds between ``l2Book`` pushes (and checks for changed ``allMids`` / ``activeAssetCtx``).
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
                 idle_timeout: float | None = IDLE_TIMEOUT_S) -> None:
        self.engine = engine
        self.push_interval = push_interval
        self.post_handler = post_handler
        self.admission = admission if admission is not None else WsAdmission(None, None)
        self.max_subscriptions_per_ip = max_subscriptions_per_ip
        self.idle_timeout = idle_timeout
        self._ip_subscriptions: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: dict[Key, set[Connection]] = {}
        self._connections: set[Connection] = set()
        self._dirty_bbo: set[str] = set()
        self._bbo_flush_pending = False
        self._last_sent: dict[Key, Any] = {}
        self._cadence: asyncio.Task | None = None
        self._listening = False
        self._tasks: set[asyncio.Task] = set()
        self._work_lock: asyncio.Lock | None = None
        self._inbox: deque[Any] = deque()
        self._inbox_scheduled = False

    # ------------------------------------------------------------ lifecycle (loop thread)

    def start(self) -> None:
        """Bind to the running loop, listen to the engine and start the cadence task."""
        self._inbox.clear()
        self._inbox_scheduled = False
        self._loop = asyncio.get_running_loop()
        self._work_lock = asyncio.Lock()
        if not self._listening:
            with self.engine.lock:
                self.engine.add_listener(self.on_engine_event)
            self._listening = True
        self._cadence = self._loop.create_task(self._push_periodically())

    async def stop(self) -> None:
        """Stop listening to the engine, stop pushing and close every connection."""
        if self._listening:
            with self.engine.lock:
                self.engine.remove_listener(self.on_engine_event)
            self._listening = False
        loop, self._loop = self._loop, None
        if self._cadence is not None:
            self._cadence.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cadence
        for task in list(self._tasks):
            task.cancel()
        for connection in list(self._connections):
            connection.close()
        if loop is not None:
            await asyncio.sleep(0)

    # ------------------------------------------------------------ engine thread side

    def on_engine_event(self, event: Any) -> None:
        """Engine listener: hand the event to the loop thread (never blocks the engine).

        Events queue in an inbox and the loop is woken once per batch rather than once per
        event, since each wake-up is a write to the loop's self-pipe.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        self._inbox.append(event)
        if not self._inbox_scheduled:
            self._inbox_scheduled = True
            with contextlib.suppress(RuntimeError):  # the loop is shutting down
                loop.call_soon_threadsafe(self._drain_inbox)

    # ------------------------------------------------------------ routing (loop thread)

    def _spawn(self, work: Callable[[], Any]) -> None:
        """Run ``work`` (engine queries) in a worker thread, then publish its frames on the loop."""
        if self._loop is None:
            return

        async def run() -> None:
            await self._run_and_publish(work)

        task = self._loop.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_and_publish(self, work: Callable[[], Any]) -> None:
        """Compute frames in a worker thread and publish them; one at a time, in order, so a slower
        computation can never publish an older state after a newer one."""
        assert self._work_lock is not None
        async with self._work_lock:
            try:
                frames = await asyncio.to_thread(work)
            except Exception:
                log.exception("WebSocket push failed")
                return
            self._publish_all(frames)

    def _publish_all(self, frames: list[tuple[Key, dict[str, Any], bool]]) -> None:
        """Publish frames; those flagged ``only_if_changed`` are skipped when equal to the last one sent."""
        for key, frame, only_if_changed in frames:
            if only_if_changed:
                token = _change_token(key, frame["data"])
                if self._last_sent.get(key) == token:
                    continue
                self._last_sent[key] = token
            self._publish(key, frame)

    def _publish(self, key: Key, frame: dict[str, Any]) -> None:
        connections = self._subscribers.get(key)
        if not connections:
            return
        text = _encode(frame)
        for connection in connections:
            held = connection.held.get(key)
            if held is not None:
                held.append(text)
            else:
                connection.send(text)

    def _drain_inbox(self) -> None:
        self._inbox_scheduled = False  # before draining: an event queued meanwhile schedules another drain
        inbox = self._inbox
        while inbox:
            self._dispatch(inbox.popleft())

    def _dispatch(self, event: Any) -> None:
        """Route one engine event; its payload is only built when someone subscribed to it."""
        channel, key = event.channel, event.key
        try:
            if channel == "trades":
                if ("trades", key) in self._subscribers:
                    data = event.data
                    if data:
                        self._publish(("trades", key), {"channel": "trades", "data": data})
            elif channel == "book":
                self._dirty_bbo.add(key)
                if not self._bbo_flush_pending and self._loop is not None:
                    self._bbo_flush_pending = True
                    self._loop.call_soon(self._flush_bbo)
            elif channel == "candle":
                data = event.data
                self._publish(("candle", key, data["i"]), {"channel": "candle", "data": data})
            elif channel == "ctx":
                pass  # contexts are compared and pushed by the cadence task
            else:
                self._dispatch_user(channel, key.lower(), event)
        except Exception:
            log.exception("cannot route engine event %s for %s", channel, key)

    def _dispatch_user(self, channel: str, user: str, event: Any) -> None:
        subscribers = self._subscribers
        if channel == "fills":
            if ("userEvents", user) in subscribers or ("userFills", user) in subscribers:
                data = event.data
                self._publish(("userEvents", user), {"channel": "user", "data": {"fills": data}})
                self._publish(("userFills", user), {"channel": "userFills", "data": {"user": user, "fills": data}})
            self._refresh_user_views(user)
            return
        if channel == "orderUpdates":
            if ("orderUpdates", user) in subscribers:
                self._publish(("orderUpdates", user), {"channel": "orderUpdates", "data": event.data})
            self._refresh_user_views(user)
            return
        data = event.data
        if channel == "funding":
            self._publish(("userEvents", user), {"channel": "user", "data": {"funding": data}})
            self._publish(("userFundings", user),
                          {"channel": "userFundings", "data": {"user": user, "fundings": [data]}})
        elif channel == "ledger":
            self._publish(("userNonFundingLedgerUpdates", user), {
                "channel": "userNonFundingLedgerUpdates",
                "data": {"user": user, "nonFundingLedgerUpdates": [data]},
            })
            self._refresh_user_views(user)
        elif channel == "liquidation":
            self._publish(("userEvents", user), {"channel": "user", "data": {"liquidation": data}})
        elif channel == "nonUserCancel":
            self._publish(("userEvents", user), {"channel": "user", "data": {"nonUserCancel": data}})

    def _refresh_user_views(self, user: str) -> None:
        keys = [k for k in self._subscribers
                if (k[0] == "activeAssetData" and k[2] == user) or k == ("webData2", user)]
        if not keys:
            return

        def frames() -> list:
            return [(key, self._web_data_frame(user) if key[0] == "webData2"
                     else self._active_asset_data_frame(key[1], user), False) for key in keys]

        self._spawn(frames)

    def _flush_bbo(self) -> None:
        self._bbo_flush_pending = False
        coins, self._dirty_bbo = self._dirty_bbo, set()
        keys = [("bbo", coin) for coin in coins if ("bbo", coin) in self._subscribers]
        if keys:
            self._spawn(lambda: [(key, self._bbo_frame(key[1]), True) for key in keys])

    async def _push_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.push_interval)
            keys = [k for k in self._subscribers if k[0] in ("l2Book", "allMids", "activeAssetCtx")]
            if keys:
                await self._run_and_publish(lambda: self._cadence_frames(keys))

    def _cadence_frames(self, keys: list[Key]) -> list:
        """Worker thread: every subscribed book; mids and contexts (sent only when changed)."""
        out = []
        for key in keys:
            if key[0] == "l2Book":
                out.append((key, self._book_frame(key), False))
            elif key[0] == "allMids":
                out.append((key, self._mids_frame(), True))
            else:
                out.append((key, self._ctx_frame(key[1]), True))
        return out

    # ------------------------------------------------------------ frames built from engine queries

    def _book_frame(self, key: Key) -> dict[str, Any]:
        with self.engine.lock:
            book = self.engine.l2_book(key[1], n_sig_figs=key[2])
        return {"channel": "l2Book", "data": book}

    def _mids_frame(self) -> dict[str, Any]:
        with self.engine.lock:
            return {"channel": "allMids", "data": {"mids": self.engine.all_mids()}}

    def _bbo_frame(self, coin: str) -> dict[str, Any]:
        with self.engine.lock:
            return {"channel": "bbo", "data": self.engine.bbo(coin)}

    def _ctx_frame(self, coin: str) -> dict[str, Any]:
        with self.engine.lock:
            data = self.engine.active_asset_ctx(coin)
        return {"channel": "activeSpotAssetCtx" if _is_spot(coin) else "activeAssetCtx", "data": data}

    def _web_data_frame(self, user: str) -> dict[str, Any]:
        with self.engine.lock:
            state = self.engine.clearinghouse_state(user)
            orders = self.engine.frontend_open_orders(user)
        return {"channel": "webData2", "data": {"user": user, "clearinghouseState": state, "openOrders": orders}}

    def _active_asset_data_frame(self, coin: str, user: str) -> dict[str, Any]:
        with self.engine.lock:
            state = self.engine.clearinghouse_state(user)
            ctx = self.engine.active_asset_ctx(coin)["ctx"]
            universe = self.engine.meta()["universe"]
        max_leverage = next((a["maxLeverage"] for a in universe if a["name"] == coin), 1)
        leverage: dict[str, Any] = {"type": "cross", "value": min(20, max_leverage)}
        for position in state.get("assetPositions", []):
            if position["position"]["coin"] == coin:
                leverage = position["position"]["leverage"]
        mark = float(ctx.get("markPx") or 0.0)
        available = float(state.get("withdrawable") or 0.0)
        max_size = available * leverage["value"] / mark if mark > 0 else 0.0
        return {"channel": "activeAssetData", "data": {
            "user": user, "coin": coin, "leverage": leverage,
            "maxTradeSzs": [f"{max_size:.8g}", f"{max_size:.8g}"],
            "availableToTrade": [f"{available:.6f}", f"{available:.6f}"],
            "markPx": ctx.get("markPx", "0.0"),
        }}

    def _snapshot_frames(self, key: Key) -> list[dict[str, Any]]:
        kind = key[0]
        engine = self.engine
        if kind == "l2Book":
            return [self._book_frame(key)]
        if kind == "allMids":
            return [self._mids_frame()]
        if kind == "bbo":
            return [self._bbo_frame(key[1])]
        if kind == "trades":
            with engine.lock:
                trades = engine.recent_trades(key[1])
            return [{"channel": "trades", "data": trades}] if trades else []
        if kind == "activeAssetCtx":
            return [self._ctx_frame(key[1])]
        if kind == "activeAssetData":
            return [self._active_asset_data_frame(key[1], key[2])]
        if kind == "webData2":
            return [self._web_data_frame(key[1])]
        user = key[1] if kind in _USER_TYPES else None
        if kind == "userFills":
            with engine.lock:
                fills = engine.user_fills(user)
            return [{"channel": "userFills", "data": {"isSnapshot": True, "user": user, "fills": fills}}]
        if kind == "userFundings":
            with engine.lock:
                history = engine.user_funding(user, 0, None)
            fundings = [{"time": item["time"], **{k: v for k, v in item["delta"].items() if k != "type"}}
                        for item in history]
            return [{"channel": "userFundings", "data": {"isSnapshot": True, "user": user, "fundings": fundings}}]
        if kind == "userNonFundingLedgerUpdates":
            with engine.lock:
                updates = engine.user_non_funding_ledger_updates(user, 0, None)
            return [{"channel": "userNonFundingLedgerUpdates",
                     "data": {"isSnapshot": True, "user": user, "nonFundingLedgerUpdates": updates}}]
        return []

    # ------------------------------------------------------------ client side (loop thread)

    async def serve(self, websocket: WebSocket) -> None:
        """Run one client connection until it closes, goes idle, or is refused admission (HTTP 429)."""
        ip = websocket.client.host if websocket.client is not None else "unknown"
        refusal = self.admission.admit(ip)
        if refusal is not None:
            log.info("refused WebSocket from %s: %s", ip, refusal)
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
        writer = asyncio.get_running_loop().create_task(self._write(connection))
        connection.send(WS_CONNECTED_TEXT)
        try:
            while not connection.closed:
                try:
                    async with asyncio.timeout(self.idle_timeout):
                        message = await websocket.receive()
                except TimeoutError:
                    log.info("closing WebSocket from %s: nothing received for %s s", ip, self.idle_timeout)
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
            self._drop(connection)
            connection.close()
            with contextlib.suppress(Exception):
                await writer
            with contextlib.suppress(Exception):
                await websocket.close()

    async def _write(self, connection: Connection) -> None:
        while True:
            text = await connection.queue.get()
            if text is None:
                with contextlib.suppress(Exception):
                    await connection.websocket.close()
                return
            try:
                await connection.websocket.send_text(text)
            except Exception:
                connection.closed = True
                return

    def _drop(self, connection: Connection) -> None:
        self._connections.discard(connection)
        for key in list(connection.subscriptions):
            self._remove(connection, key)

    def _error(self, connection: Connection, text: str) -> None:
        connection.send(_encode({"channel": "error", "data": text}))

    def _over_message_rate(self, connection: Connection) -> bool:
        now = time.monotonic()
        times = connection.message_times
        times.append(now)
        while times and times[0] < now - 60.0:
            times.popleft()
        return len(times) > MAX_MESSAGES_PER_MINUTE

    async def _handle_message(self, connection: Connection, text: str) -> None:
        if len(text) > MAX_WS_MESSAGE_BYTES:
            self._error(connection, "Message too large")
            return
        if self._over_message_rate(connection):
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
            log.exception("WebSocket post failed")
            response = {"type": "error", "payload": "Internal error"}
        connection.send(_encode({"channel": "post", "data": {"id": request_id, "response": response}}))

    async def _subscribe(self, connection: Connection, key: Key, subscription: dict[str, Any]) -> None:
        if key in connection.subscriptions:
            self._error(connection, f"Already subscribed: {_encode(subscription)}")
            return
        if self._ip_subscriptions.get(connection.ip, 0) >= self.max_subscriptions_per_ip:
            self._error(connection, f"Cannot track more than {self.max_subscriptions_per_ip} total subscriptions")
            return
        users = connection.users()
        new_user = key[2] if key[0] == "activeAssetData" else key[1] if key[0] in _USER_TYPES else None
        if new_user is not None and new_user not in users and len(users) >= MAX_USERS:
            self._error(connection, f"Cannot track more than {MAX_USERS} total users")
            return
        echo = dict(subscription)
        if key[0] == "userFills":
            echo.setdefault("aggregateByTime", False)
        # Register before taking the snapshot and hold live frames until it is sent, so an event that
        # happens meanwhile is delivered (possibly also inside the snapshot) rather than lost.
        connection.subscriptions[key] = echo
        self._ip_subscriptions[connection.ip] = self._ip_subscriptions.get(connection.ip, 0) + 1
        connection.held[key] = []
        self._subscribers.setdefault(key, set()).add(connection)
        try:
            snapshot = await asyncio.to_thread(self._snapshot_frames, key)
        except Exception as exc:
            log.info("subscription %s refused: %s", key, exc)
            connection.held.pop(key, None)
            self._remove(connection, key)
            self._error(connection, f"Invalid subscription {_encode(subscription)}: {exc}")
            return
        connection.send(_encode({"channel": "subscriptionResponse",
                                 "data": {"method": "subscribe", "subscription": echo}}))
        for frame in snapshot:
            connection.send(_encode(frame))
        for text in connection.held.pop(key, ()):
            connection.send(text)
        if key[0] in ("bbo", "allMids", "activeAssetCtx"):
            self._last_sent.setdefault(key, _change_token(key, snapshot[0]["data"]))

    def _remove(self, connection: Connection, key: Key) -> None:
        if connection.subscriptions.pop(key, None) is not None:
            left = self._ip_subscriptions[connection.ip] - 1
            if left:
                self._ip_subscriptions[connection.ip] = left
            else:
                del self._ip_subscriptions[connection.ip]
        subscribers = self._subscribers.get(key)
        if subscribers is not None:
            subscribers.discard(connection)
            if not subscribers:
                del self._subscribers[key]

    def _unsubscribe(self, connection: Connection, key: Key, subscription: dict[str, Any]) -> None:
        if key not in connection.subscriptions:
            self._error(connection, f"Already unsubscribed: {_encode(subscription)}")
            return
        self._remove(connection, key)
        connection.send(_encode({"channel": "subscriptionResponse",
                                 "data": {"method": "unsubscribe", "subscription": subscription}}))
