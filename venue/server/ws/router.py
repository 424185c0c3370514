"""Route engine events and periodic pushes to the subscribers of each routing key.

Threading: engine listeners run on whichever thread moved the engine, under
its lock. `Router.on_engine_event` only appends the event to an inbox and
wakes the loop once per batch (each wake-up is a write to the loop's
self-pipe); routing happens on the loop thread. Frames that need engine
queries are computed in worker threads, one computation at a time, so a
slower one can never publish an older state after a newer one. ``l2Book`` is
pushed for every subscribed book at a fixed cadence, ``allMids`` and
``activeAssetCtx`` at that cadence when they changed (with ``books_every_step``
books and changed contexts after every market step instead: `Router.on_step`),
and ``bbo`` as soon as it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any

from pairflow.logs import get_logger
from venue.engine import Channel

from ..wire import account, market
from .frames import Frame, FrameBuilder, change_token, encode
from .subscriptions import Key, Subscriptions

__all__ = ["Router"]

_log = get_logger(__name__)
_CADENCE_TYPES = ("l2Book", "allMids", "activeAssetCtx")
_CHANGE_ONLY_TYPES = ("bbo", "allMids", "activeAssetCtx")
_STEP_TYPES = ("l2Book", "activeAssetCtx")  # pushed by on_step instead of the cadence with books_every_step


class Router:
    """Turn engine events into frames for the connections subscribed to them.

    Parameters
    ----------
    engine
        The `venue.engine.Engine` to listen to.
    subscriptions
        Who is subscribed to what (shared with the hub, which adds and removes).
    frames
        Builds frames from engine queries.
    push_interval
        Seconds between ``l2Book`` pushes (and checks for changed ``allMids`` / ``activeAssetCtx``).
    books_every_step
        Push ``l2Book`` from `on_step` (each market step) instead of on the cadence.
    """

    def __init__(self, engine: Any, subscriptions: Subscriptions, frames: FrameBuilder,
                 push_interval: float = 0.5, books_every_step: bool = False) -> None:
        self.engine = engine
        self.subscriptions = subscriptions
        self.frames = frames
        self.push_interval = push_interval
        self.books_every_step = books_every_step
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening = False
        self._cadence: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._work_lock: asyncio.Lock | None = None
        self._inbox: deque[Any] = deque()
        self._inbox_scheduled = False
        self._dirty_bbo: set[str] = set()
        self._bbo_flush_pending = False
        self._last_sent: dict[Key, Any] = {}

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
        """Stop listening to the engine and stop pushing."""
        if self._listening:
            with self.engine.lock:
                self.engine.remove_listener(self.on_engine_event)
            self._listening = False
        self._loop = None
        if self._cadence is not None:
            self._cadence.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cadence
        for task in list(self._tasks):
            task.cancel()

    # ------------------------------------------------------------ engine thread side

    def on_engine_event(self, event: Any) -> None:
        """Engine listener: hand the event to the loop thread (never blocks the engine).

        Events no subscription is fed by are dropped here, before they cost a loop wake-up (a
        self-pipe write per batch): with no subscriber an order then costs no WebSocket work at
        all. Reading the subscriptions from the engine thread is safe: a subscriber added just
        after an event was dropped gets a snapshot taken under the engine lock, which includes it.
        """
        loop = self._loop
        watched = self.subscriptions.watched
        if loop is None or (event.key not in watched and event.key.lower() not in watched) or loop.is_closed():
            return
        self._inbox.append(event)
        if not self._inbox_scheduled:
            self._inbox_scheduled = True
            with contextlib.suppress(RuntimeError):  # the loop is shutting down
                loop.call_soon_threadsafe(self._drain_inbox)

    def on_step(self, now_ms: int) -> None:
        """Capture every subscribed book and changed asset context as the step left them and queue their push.

        Called on the driver thread under the engine lock: taken here, before any order can arrive
        after the step, each book is the one such an order meets, stamped with the step's time, and
        each context carries the oracle hourly funding settles at if the next step starts an hour.
        Queued in call order, the pushes keep the steps' order, a step's books before its contexts.
        """
        loop = self._loop
        if not self.books_every_step or loop is None or loop.is_closed():
            return
        keys = list(self.subscriptions)
        frames = [(key, self.frames.book(key), False) for key in keys if key[0] == "l2Book"]
        frames += [(key, self.frames.asset_ctx(key[1]), True) for key in keys if key[0] == "activeAssetCtx"]
        if frames:
            with contextlib.suppress(RuntimeError):  # the loop is shutting down
                loop.call_soon_threadsafe(self._publish_all, frames)

    # ------------------------------------------------------------ publishing (loop thread)

    def publish(self, key: Key, frame: Frame) -> None:
        """Send ``frame`` to every subscriber of ``key`` (held back for those awaiting their snapshot)."""
        connections = self.subscriptions.subscribers(key)
        if not connections:
            return
        text = encode(frame)
        for connection in connections:
            held = connection.held.get(key)
            if held is not None:
                held.append(text)
            else:
                connection.send(text)

    def remember_sent(self, key: Key, frame: Frame) -> None:
        """Record a snapshot frame of a change-only key so an unchanged push is not sent after it."""
        if key[0] in _CHANGE_ONLY_TYPES:
            self._last_sent.setdefault(key, change_token(key, frame["data"]))

    def _publish_all(self, frames: list[tuple[Key, Frame, bool]]) -> None:
        """Publish frames; those flagged ``only_if_changed`` are skipped when equal to the last one sent."""
        for key, frame, only_if_changed in frames:
            if only_if_changed:
                token = change_token(key, frame["data"])
                if self._last_sent.get(key) == token:
                    continue
                self._last_sent[key] = token
            self.publish(key, frame)

    def _spawn(self, work: Callable[[], list[tuple[Key, Frame, bool]]]) -> None:
        """Run ``work`` (engine queries) in a worker thread, then publish its frames on the loop."""
        if self._loop is None:
            return
        task = self._loop.create_task(self._run_and_publish(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_and_publish(self, work: Callable[[], list[tuple[Key, Frame, bool]]]) -> None:
        assert self._work_lock is not None
        async with self._work_lock:
            try:
                frames = await asyncio.to_thread(work)
            except Exception:
                _log.exception("WebSocket push failed")
                return
            self._publish_all(frames)

    async def _push_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.push_interval)
            keys = [key for key in self.subscriptions
                    if key[0] in _CADENCE_TYPES and not (self.books_every_step and key[0] in _STEP_TYPES)]
            if keys:
                await self._run_and_publish(lambda: self.frames.cadence(keys))

    # ------------------------------------------------------------ routing engine events (loop thread)

    def _drain_inbox(self) -> None:
        self._inbox_scheduled = False  # before draining: an event queued meanwhile schedules another drain
        inbox = self._inbox
        while inbox:
            self._dispatch(inbox.popleft())

    def _dispatch(self, event: Any) -> None:
        """Route one engine event; its payload is only built when someone subscribed to it."""
        channel, key = event.channel, event.key
        try:
            if channel is Channel.TRADES:
                if ("trades", key) in self.subscriptions:
                    data = event.data
                    if data:
                        self.publish(("trades", key), {"channel": "trades", "data": [market.trade(t) for t in data]})
            elif channel is Channel.BOOK:
                self._dirty_bbo.add(key)
                if not self._bbo_flush_pending and self._loop is not None:
                    self._bbo_flush_pending = True
                    self._loop.call_soon(self._flush_bbo)
            elif channel is Channel.CANDLE:
                bar = event.data
                if ("candle", key, bar.interval) in self.subscriptions:
                    self.publish(("candle", key, bar.interval), {"channel": "candle", "data": market.candle(bar)})
            elif channel is not Channel.CTX:  # contexts are compared and pushed by the cadence task
                self._dispatch_user(channel, key.lower(), event)
        except Exception:
            _log.exception("cannot route engine event", channel=channel, key=key)

    def _dispatch_user(self, channel: Channel, user: str, event: Any) -> None:
        subscriptions = self.subscriptions
        if channel is Channel.FILLS:
            if ("userEvents", user) in subscriptions or ("userFills", user) in subscriptions:
                data = [account.fill(fill) for fill in event.data]
                self.publish(("userEvents", user), {"channel": "user", "data": {"fills": data}})
                self.publish(("userFills", user), {"channel": "userFills", "data": {"user": user, "fills": data}})
            self._refresh_user_views(user)
            return
        if channel is Channel.ORDER_UPDATES:
            if ("orderUpdates", user) in subscriptions:
                updates = [account.order_update(record) for record in event.data]
                self.publish(("orderUpdates", user), {"channel": "orderUpdates", "data": updates})
            self._refresh_user_views(user)
            return
        if channel is Channel.FUNDING:
            data = account.funding_event(event.data)
            self.publish(("userEvents", user), {"channel": "user", "data": {"funding": data}})
            self.publish(("userFundings", user),
                         {"channel": "userFundings", "data": {"user": user, "fundings": [data]}})
        elif channel is Channel.LEDGER:
            self.publish(("userNonFundingLedgerUpdates", user), {
                "channel": "userNonFundingLedgerUpdates",
                "data": {"user": user, "nonFundingLedgerUpdates": [account.ledger_update(event.data)]},
            })
            self._refresh_user_views(user)
        elif channel is Channel.LIQUIDATION:
            liquidation = account.liquidation(event.data)
            self.publish(("userEvents", user), {"channel": "user", "data": {"liquidation": liquidation}})
        elif channel is Channel.NON_USER_CANCEL:
            cancels = [account.non_user_cancel(order) for order in event.data]
            self.publish(("userEvents", user), {"channel": "user", "data": {"nonUserCancel": cancels}})

    def _refresh_user_views(self, user: str) -> None:
        keys = [key for key in self.subscriptions
                if (key[0] == "activeAssetData" and key[2] == user) or key == ("webData2", user)]
        if keys:
            self._spawn(lambda: [(key, self.frames.user_view(key), False) for key in keys])

    def _flush_bbo(self) -> None:
        self._bbo_flush_pending = False
        coins, self._dirty_bbo = self._dirty_bbo, set()
        keys = [("bbo", coin) for coin in coins if ("bbo", coin) in self.subscriptions]
        if keys:
            self._spawn(lambda: [(key, self.frames.bbo(key[1]), True) for key in keys])
