"""The account's own stream over WebSocket: fills, order updates and funding payments, and every reconnect.

Subscribes ``userFills``, ``orderUpdates`` and ``userFundings`` for one
account and yields `Fill`, `Order` and `FundingPayment` events (ids as
reconciliation gives them, so the idempotent ledgers count each once
whichever path delivered it). A dropped connection is reopened with backoff;
every (re)connection first yields `Reconnected`, the consumer's cue to
reconcile over REST before trusting its books -- fills sent while the socket
was down are not replayed by the stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from pairflow.hyperliquid.user_parse import fills_from_wire
from pairflow.clock import WALL_CLOCK
from pairflow.errors import ParseError
from pairflow.events import Fill, FundingPayment, Order
from pairflow.hyperliquid.client import HyperliquidTransportError, WsConnection
from pairflow.hyperliquid.schemas import OrderUpdatesSubscription, UserFillsSubscription, UserFundingsSubscription
from pairflow.logs import get_logger

__all__ = ["Reconnected", "parse_user_frame", "user_stream"]

_log = get_logger(__name__)
_STATUS = {"open": "open", "filled": "filled", "triggered": "open"}


class Reconnected(msgspec.Struct, frozen=True):
    """The stream (re)connected at ``ts``: reconcile over REST before trusting the books."""

    ts: int
    attempt: int


def parse_user_frame(text: str, recv_ts: int) -> list[Fill | FundingPayment | Order]:
    """Turn one WebSocket frame of the user channels into events (other channels give ``[]``).

    Examples
    --------
    >>> frame = json.dumps({"channel": "userFundings", "data": {"user": "0x1", "fundings": [
    ...     {"time": 5, "coin": "ETH", "usdc": "-0.25", "szi": "1.0", "fundingRate": "0.0001"}]}})
    >>> [(p.id, p.usdc) for p in parse_user_frame(frame, 6)]
    [('5:ETH', -0.25)]
    """
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


async def user_stream(url: str, user: str, stop: asyncio.Event, retry_s: float = 0.5,
                      max_retry_s: float = 10.0) -> AsyncIterator[Reconnected | Fill | FundingPayment | Order]:
    """Yield the account's events until ``stop`` is set, reconnecting with backoff; a bad frame is logged and skipped."""
    attempt, delay = 0, retry_s
    while not stop.is_set():
        connection = WsConnection(url)
        try:
            await connection.connect()
            for subscription in (UserFillsSubscription(user=user), OrderUpdatesSubscription(user=user),
                                 UserFundingsSubscription(user=user)):
                await connection.subscribe(subscription)
            attempt += 1
            delay = retry_s
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
            _log.info("user stream down, retrying", extra={"error": str(error), "retry_s": delay})
        finally:
            await connection.close()
        if not stop.is_set():
            await asyncio.sleep(delay)
            delay = min(max_retry_s, delay * 2)
