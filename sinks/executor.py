"""Where orders go: a small protocol, and its Hyperliquid implementation over HTTP.

The router speaks only `Executor`, so the same router drives the exchange,
the local venue (same HTTP API) or the backtest's simulated executor (the
venue's matching engine in-process). Answers are `Placement` records: what
the exchange says happened to one order. `place` raises `OrderStateUnknown`
when no answer arrived: the orders may or may not exist, and only
`status(cloid)` may tell. ``expires_after`` (ms on the executor's `now_ms`
clock) bounds how late a request may still take effect: the exchange refuses
it after that time, so a request held up in the network cannot land as an
order once a restart has sent it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from operators.order_rules import AssetRules
from pairflow.errors import PairflowError
from pairflow.hyperliquid.client import HyperliquidError
from pairflow.hyperliquid.exchange_client import ExchangeClient

__all__ = ["Executor", "HyperliquidExecutor", "LegOrder", "OrderStateUnknown", "Placement"]


class OrderStateUnknown(PairflowError):
    """Raise when a request got no answer: its orders' state is unknown until queried by cloid."""


class LegOrder(msgspec.Struct, frozen=True):
    """One order ready for the wire: rounded size and price, time in force, cloid."""

    coin: str
    is_buy: bool
    sz: float
    px: float
    cloid: str
    tif: str = "Ioc"
    reduce_only: bool = False


class Placement(msgspec.Struct, frozen=True):
    """The exchange's word on one order: ``resting``, ``filled``, ``canceled``, ``rejected`` or ``unknownOid``."""

    cloid: str
    status: str
    oid: int | None = None
    filled_sz: float = 0.0
    avg_px: float | None = None
    error: str = ""


class Executor(Protocol):
    """What the router needs from an exchange."""

    def now_ms(self) -> int: ...

    def place(self, orders: Sequence[LegOrder], expires_after: int | None = None) -> list[Placement]: ...

    def status(self, cloid: str) -> Placement: ...

    def cancel(self, orders: Sequence[tuple[str, str]]) -> list[bool]: ...

    def schedule_cancel(self, at_ms: int | None) -> bool: ...


_STATUS_OF_ORDER = {"open": "resting", "filled": "filled", "triggered": "resting"}


def _final_status(status: str) -> str:
    """Map an ``orderStatus`` status (``open``, ``iocCancelRejected``, ``marginCanceled``, ...) to a `Placement` one."""
    return _STATUS_OF_ORDER.get(status, "canceled" if "cancel" in status.lower() else "rejected")


class HyperliquidExecutor:
    """`Executor` over the Hyperliquid API (mainnet, testnet or the local venue): asset ids by coin name."""

    def __init__(self, client: ExchangeClient, account: str, meta: dict[str, Any] | None = None) -> None:
        self.client = client
        self.account = account
        meta = meta or client.info({"type": "meta"})
        self.asset_of = {asset["name"]: index for index, asset in enumerate(meta["universe"])}
        self.rules = AssetRules.from_meta(meta)

    def _wire(self, order: LegOrder) -> dict[str, Any]:
        from hyperliquid.utils.signing import float_to_wire

        return {"a": self.asset_of[order.coin], "b": order.is_buy, "p": float_to_wire(order.px),
                "s": float_to_wire(order.sz), "r": order.reduce_only, "t": {"limit": {"tif": order.tif}},
                "c": order.cloid}

    def now_ms(self) -> int:
        """Return the client's request clock (nonces and ``expiresAfter`` are stamped with it)."""
        return self.client.now_ms()

    def place(self, orders: Sequence[LegOrder], expires_after: int | None = None) -> list[Placement]:
        """Send ``orders`` as one batch; one `Placement` per order (a whole-batch error is repeated)."""
        action = {"type": "order", "orders": [self._wire(order) for order in orders], "grouping": "na"}
        try:
            answer = self.client.exchange(action, expires_after)
        except HyperliquidError as error:
            if error.is_retryable():
                raise OrderStateUnknown(f"order batch of {len(orders)}: {error}") from None
            return [Placement(order.cloid, "rejected", error=str(error)) for order in orders]
        if answer.get("status") != "ok":
            return [Placement(order.cloid, "rejected", error=str(answer.get("response"))) for order in orders]
        statuses = answer["response"]["data"]["statuses"]
        if len(statuses) == 1 and len(orders) > 1:
            statuses = statuses * len(orders)
        return [_placement(order.cloid, status) for order, status in zip(orders, statuses, strict=True)]

    def status(self, cloid: str) -> Placement:
        """Ask the exchange for an order by cloid (``unknownOid`` when it never arrived)."""
        try:
            answer = self.client.info({"type": "orderStatus", "user": self.account, "oid": cloid})
        except HyperliquidError as error:
            raise OrderStateUnknown(f"orderStatus {cloid}: {error}") from None
        if answer.get("status") != "order":
            return Placement(cloid, "unknownOid")
        order, status = answer["order"]["order"], answer["order"]["status"]
        filled = float(order["origSz"]) - float(order["sz"])
        return Placement(cloid, _final_status(status),
                         oid=order["oid"], filled_sz=round(filled, 10))

    def cancel(self, orders: Sequence[tuple[str, str]]) -> list[bool]:
        """Cancel ``(coin, cloid)`` pairs; True where the exchange cancelled one."""
        if not orders:
            return []
        action = {"type": "cancelByCloid",
                  "cancels": [{"asset": self.asset_of[coin], "cloid": cloid} for coin, cloid in orders]}
        answer = self.client.exchange(action)
        if answer.get("status") != "ok":
            return [False] * len(orders)
        return [status == "success" for status in answer["response"]["data"]["statuses"]]

    def schedule_cancel(self, at_ms: int | None) -> bool:
        """Arm (or with None disarm) the exchange's dead-man switch: cancel everything at ``at_ms``."""
        action: dict[str, Any] = {"type": "scheduleCancel"}
        if at_ms is not None:
            action["time"] = at_ms
        return self.client.exchange(action).get("status") == "ok"

    def open_orders(self) -> Any:
        """Return the raw ``frontendOpenOrders`` answer."""
        return self.client.info({"type": "frontendOpenOrders", "user": self.account})

    def clearinghouse(self) -> Any:
        """Return the raw ``clearinghouseState`` answer."""
        return self.client.info({"type": "clearinghouseState", "user": self.account})

    def fills_since(self, start_ms: int) -> Any:
        """Return the raw ``userFillsByTime`` answer from ``start_ms``."""
        return self.client.info({"type": "userFillsByTime", "user": self.account, "startTime": start_ms})

    def funding_since(self, start_ms: int) -> Any:
        """Return the raw ``userFunding`` answer from ``start_ms``."""
        return self.client.info({"type": "userFunding", "user": self.account, "startTime": start_ms})


def _placement(cloid: str, status: Any) -> Placement:
    if isinstance(status, dict) and "resting" in status:
        return Placement(cloid, "resting", oid=status["resting"]["oid"])
    if isinstance(status, dict) and "filled" in status:
        filled = status["filled"]
        return Placement(cloid, "filled", oid=filled["oid"], filled_sz=float(filled["totalSz"]),
                         avg_px=float(filled["avgPx"]))
    error = status.get("error", str(status)) if isinstance(status, dict) else str(status)
    return Placement(cloid, "rejected", error=error)
