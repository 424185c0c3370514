"""The account's own stream over WebSocket: fills, order updates and funding payments, and every reconnect.

Subscribes ``userFills``, ``orderUpdates`` and ``userFundings`` for one
account and yields `Fill`, `Order` and `FundingPayment` events (ids as
reconciliation gives them, so the idempotent ledgers count each once
whichever path delivered it). A dropped connection is reopened with backoff;
every (re)connection first yields `Reconnected`, the consumer's cue to
reconcile over REST before trusting its books -- fills sent while the socket
was down are not replayed by the stream -- and every loss yields
`Disconnected`, its cue to fall back to REST polling.

`UserStreamThread` runs the stream on its own thread for a synchronous
consumer (the execution desk), which drains what arrived at each batch. It is
not a dataflow source on purpose: a dataflow ends when its inputs end, and the
account's stream has no end of its own, so it lives and dies with the desk's
other connections (router, REST account view).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
from collections.abc import AsyncIterator
from typing import Any

from pairflow.clock import WALL_CLOCK
from pairflow.errors import ParseError
from pairflow.events import Disconnected, Fill, FundingPayment, Order, Reconnected
from pairflow.hyperliquid.user_parse import fills_from_wire
from pairflow.hyperliquid.client import HyperliquidTransportError, WsConnection
from pairflow.hyperliquid.schemas import (
    WS_CONNECTED_TEXT, OrderUpdatesSubscription, UserFillsSubscription, UserFundingsSubscription,
)
from pairflow.logs import get_logger

__all__ = ["Disconnected", "Reconnected", "UserStreamThread", "parse_user_frame", "user_stream"]

_log = get_logger(__name__)
_STATUS = {"open": "open", "filled": "filled", "triggered": "open"}


def parse_user_frame(text: str, recv_ts: int) -> list[Fill | FundingPayment | Order]:
    """Turn one WebSocket frame of the user channels into events (other channels give ``[]``).

    Examples
    --------
    >>> frame = json.dumps({"channel": "userFundings", "data": {"user": "0x1", "fundings": [
    ...     {"time": 5, "coin": "ETH", "usdc": "-0.25", "szi": "1.0", "fundingRate": "0.0001"}]}})
    >>> [(p.id, p.usdc) for p in parse_user_frame(frame, 6)]
    [('5:ETH', -0.25)]
    """
    if text == WS_CONNECTED_TEXT:
        return []
    try:
        message = json.loads(text)
        channel, data = message.get("channel"), message.get("data")
        if channel == "userFills":
            return list(fills_from_wire(data["fills"], recv_ts))
        if channel == "userFundings":
            return [FundingPayment(ts=f["time"], recv_ts=recv_ts, id=f"{f['time']}:{f['coin']}", coin=f["coin"],
                                   usdc=float(f["usdc"]), szi=float(f["szi"]), rate=float(f["fundingRate"]))
                    for f in data["fundings"]]
        if channel == "orderUpdates":
            return [_order(update, recv_ts) for update in data]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ParseError("user frame", text[:200], f"{type(error).__name__}: {error}") from None
    return []


def _order(update: dict[str, Any], recv_ts: int) -> Order:
    order, status = update["order"], update["status"]
    original, remaining = float(order.get("origSz") or order["sz"]), float(order["sz"])
    cloid = order.get("cloid") or ""
    final = _STATUS.get(status, "canceled" if "anceled" in status else "rejected")
    return Order(ts=update["statusTimestamp"], recv_ts=recv_ts, id=cloid or str(order["oid"]), coin=order["coin"],
                 cloid=cloid, oid=order["oid"], is_buy=order["side"] == "B", sz=original,
                 limit_px=float(order["limitPx"]), status=final if not (final == "open" and remaining < original)
                 else "partial", filled_sz=round(original - remaining, 10), reason=status)


UserEvent = Reconnected | Disconnected | Fill | FundingPayment | Order


async def user_stream(url: str, user: str, stop: asyncio.Event, retry_s: float = 0.5,
                      max_retry_s: float = 10.0) -> AsyncIterator[UserEvent]:
    """Yield the account's events until ``stop`` is set, reconnecting with backoff; a bad frame is logged and skipped."""
    attempt, delay = 0, retry_s
    while not stop.is_set():
        connection = WsConnection(url)
        connected, reason = False, "closed by the server"
        try:
            await connection.connect()
            for subscription in (UserFillsSubscription(user=user), OrderUpdatesSubscription(user=user),
                                 UserFundingsSubscription(user=user)):
                await connection.subscribe(subscription)
            attempt += 1
            delay = retry_s
            connected = True
            yield Reconnected(ts=WALL_CLOCK.now_ms(), attempt=attempt)
            async for text in connection.frames():
                try:
                    for event in parse_user_frame(text, WALL_CLOCK.now_ms()):
                        yield event
                except ParseError as error:
                    _log.warning("user frame skipped", extra={"error": str(error)})
                if stop.is_set():
                    break
        except HyperliquidTransportError as error:
            reason = str(error)
            _log.info("user stream down, retrying", extra={"error": reason, "retry_s": delay})
        finally:
            await connection.close()
        if connected and not stop.is_set():
            yield Disconnected(ts=WALL_CLOCK.now_ms(), reason=reason)
        if not stop.is_set():
            await asyncio.sleep(delay)
            delay = min(max_retry_s, delay * 2)


class UserStreamThread:
    """Run `user_stream` on a background thread and hand its events to a synchronous consumer.

    Parameters
    ----------
    url
        The exchange's (or the venue's) base URL.
    user
        The account whose fills, order updates and funding payments to follow.
    retry_s
        First reconnect delay; it doubles up to 10 s while the exchange stays away.
    """

    def __init__(self, url: str, user: str, retry_s: float = 0.5) -> None:
        self.url, self.user, self.retry_s = url, user, retry_s
        self._events: queue.SimpleQueue[UserEvent] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pairflow-user-stream", daemon=True)

    def start(self) -> UserStreamThread:
        """Start following the account; returns self."""
        self._thread.start()
        self._started.wait(10.0)
        return self

    def drain(self) -> list[UserEvent]:
        """Return every event that arrived since the last call, oldest first (never blocks)."""
        out: list[UserEvent] = []
        with contextlib.suppress(queue.Empty):
            while True:
                out.append(self._events.get_nowait())
        return out

    def wait(self, timeout_s: float) -> list[UserEvent]:
        """Return what arrived, waiting up to ``timeout_s`` for at least one event."""
        try:
            first = self._events.get(timeout=timeout_s)
        except queue.Empty:
            return []
        return [first, *self.drain()]

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop following the account and wait for the thread to end."""
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
                self._loop.call_soon_threadsafe(self._cancel)
        self._thread.join(timeout_s)

    def _cancel(self) -> None:
        for task in asyncio.all_tasks():
            task.cancel()

    def _run(self) -> None:
        async def follow() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._started.set()
            async for event in user_stream(self.url, self.user, self._stop, retry_s=self.retry_s):
                self._events.put(event)

        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(follow())
