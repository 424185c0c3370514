"""Order entry: the user's order actions (place, cancel, modify, schedule) up to the book.

Checks what the exchange checks before an order may reach the book (asset,
tick, lot, TIF, the 80% band, the $10 minimum, trigger prices) and hands the
survivors to `Matching`. Prices and sizes arrive as decimal text and are
parsed once per distinct text (a cache per asset, not persisted).
"""

from __future__ import annotations

from decimal import Decimal

from .accounting import Accounting
from .accounts import Account
from .constants import (
    BAD_PRICE, BAD_SIZE, BAD_TICK, DAY_MS, MAX_SCHEDULED_CANCELS_PER_DAY, OPEN, ORACLE_BAND, ORDER_RETENTION,
    PARSE_CACHE_LIMIT, POST_ONLY_MODE_ERROR, SCHEDULE_MIN_DELAY_MS, SPOT_ASSET_OFFSET,
)
from .events import EventBus
from .matching import Matching, MatchingDriver
from .models import ZeroLatency
from .orders import Order
from .rules import MIN_NOTIONAL, parse_decimal, price_on_tick, scale
from .state import EngineState
from .types import (
    Builder, CancelStatus, EngineError, Grouping, Limit, OrderRequest, OrderStatus, Rejected, Resting, Success,
    Trigger, WaitingForFill, WaitingForTrigger,
)

_BAND_NUMERATOR, _BAND_DENOMINATOR = ORACLE_BAND
_WAITING_FOR_FILL, _WAITING_FOR_TRIGGER, _SUCCESS = WaitingForFill(), WaitingForTrigger(), Success()


class OrderEntry(MatchingDriver):
    """Validate and route the order actions of authenticated users."""

    def __init__(self, state: EngineState, events: EventBus, accounting: Accounting, matching: Matching) -> None:
        super().__init__(state, events, accounting, matching)
        self._zero_latency = isinstance(state.latency_model, ZeroLatency)
        self._px_cache: list[dict[str, int]] = [{} for _ in state.specs]
        self._sz_cache: list[dict[str, int]] = [{} for _ in state.specs]

    def place_orders(self, user: str, orders: list[OrderRequest], grouping: Grouping = Grouping.NA,
                     builder: Builder | None = None) -> list[OrderStatus]:
        """Place a batch of orders for an authenticated user; return one status per order.

        Raise `EngineError` (nothing placed) when the builder is not approved or charges too much.
        """
        account = self.state.accounts.get(user) or self.accounting.account(user)
        count = len(orders)
        account.n_requests += count
        if not count:
            return [Rejected("Order batch was empty.")]
        if builder is not None:
            self.accounting.check_builder(account, builder)
        if self.events.listeners:
            self.events.begin()
        touched: set[int] = set()
        if count == 1 and grouping is Grouping.NA:
            statuses = [self._place(account, orders[0], builder, touched)]
        elif grouping is Grouping.NORMAL_TPSL:
            statuses = self._place_tpsl_group(account, orders, builder, touched)
        elif count == 1:
            statuses = [self._place(account, orders[0], builder, touched, grouping is Grouping.POSITION_TPSL)]
        else:
            position_tpsl = grouping is Grouping.POSITION_TPSL
            place = self._place
            statuses = [place(account, request, builder, touched, position_tpsl) for request in orders]
        if touched and self.state.armed:
            self.matching.after_trading(touched)
        if self.events.pending is not None:
            self.events.flush()
        return statuses

    def _place_tpsl_group(self, account: Account, orders: list, builder, touched: set) -> list:
        if len(orders) < 2 or any(r.order_type.__class__ is not Trigger for r in orders[1:]):
            return [Rejected("Unexpected number of trigger orders")]
        known = len(account.orders)
        parent_status = self._place(account, orders[0], builder, touched)
        parent = account.orders[known] if len(account.orders) > known else None
        children = []
        for request in orders[1:]:
            child = self._new_order(account, request, builder)
            if child.__class__ is Rejected:
                children.append(child)
                continue
            error = self._validate_trigger(child, request)
            if error is not None:
                children.append(self.matching.reject(child, *error))
                continue
            if parent is None or parent_status.__class__ is Rejected:
                message = parent_status.message if parent_status.__class__ is Rejected else "Order has invalid price."
                children.append(self.matching.reject(child, "rejected", message))
                continue
            child.parent = parent
            if parent.status == OPEN:
                parent.children = (parent.children or []) + [child]
                children.append(_WAITING_FOR_FILL)
            else:
                self.matching.arm(child)
                children.append(_WAITING_FOR_TRIGGER)
        return [parent_status, *children]

    def _new_order(self, account: Account, request: OrderRequest, builder: Builder | None) -> Order | Rejected:
        state = self.state
        asset = request.asset
        if asset.__class__ is not int or not 0 <= asset < state.n_assets:
            if isinstance(asset, int) and asset >= SPOT_ASSET_OFFSET:
                return Rejected(f"Spot trading is not supported by this venue. asset={asset}")
            return Rejected(f"Unknown asset. asset={asset}")
        spec = state.specs[asset]
        pxd = state.pxd[asset]
        szd = spec.sz_decimals
        px = self._px_cache[asset].get(request.limit_px) or self._parse_price(asset, request.limit_px)
        sz = self._sz_cache[asset].get(request.sz) or self._parse_size(asset, request.sz)
        oid = state.next_oid
        state.next_oid = oid + 1
        ts = state.now_ms
        if not self._zero_latency:
            ts += state.latency_model.order_latency_ms(account.address)
        order_type = request.order_type
        kind = order_type.__class__
        tif = order_type.tif._value_ if kind is Limit else None  # the enum's value attribute, read directly
        order = Order(oid, account.address, asset, spec.name, request.is_buy is True,
                      px if px > 0 else _truncate(parse_decimal(_text(request.limit_px)), pxd),
                      sz if sz > 0 else _truncate(parse_decimal(_text(request.sz)), szd),
                      ts, tif, request.reduce_only is True, request.cloid, pxd, szd)
        if builder is not None:
            order.builder = builder
        state.orders[oid] = order
        account.orders.append(order)
        if len(account.orders) > 2 * ORDER_RETENTION:
            self._forget_old_orders(account)
        cloid = request.cloid
        if cloid is not None:
            account.cloids[cloid.lower()] = order
        if px > 0 and sz > 0 and tif is not None:
            return order
        if px == BAD_PRICE:
            return self.matching.reject(order, "rejected", "Order has invalid price.")
        if sz <= 0:
            return self.matching.reject(order, "rejected", "Order has invalid size.")
        if px == BAD_TICK:
            return self.matching.reject(order, "tickRejected", f"Price must be divisible by tick size. asset={asset}")
        if kind is not Limit and kind is not Trigger:
            return self.matching.reject(order, "rejected", f"Invalid order type. asset={asset}")
        return order

    def _forget_old_orders(self, account: Account) -> None:
        """Drop finished orders beyond the retention window so a long-running venue keeps bounded memory."""
        cut = len(account.orders) - ORDER_RETENTION
        kept = []
        for order in account.orders[:cut]:
            if order.oid in account.open_orders or order.status == OPEN:
                kept.append(order)
                continue
            self.state.orders.pop(order.oid, None)
            if order.cloid is not None and account.cloids.get(order.cloid.lower()) is order:
                del account.cloids[order.cloid.lower()]
        account.orders[:cut] = kept

    def _parse_price(self, asset: int, text: Decimal | str) -> int:
        parsed = parse_decimal(_text(text))
        if parsed is None or parsed[0] == 0:
            px = BAD_PRICE
        else:
            px = scale(parsed, self.state.pxd[asset])
            if px is None or not price_on_tick(px, self.state.pxd[asset]):
                px = BAD_TICK
        cache = self._px_cache[asset]
        if (text.__class__ is str or text.__class__ is Decimal) and len(cache) < PARSE_CACHE_LIMIT:
            cache[text] = px
        return px

    def _parse_size(self, asset: int, text: Decimal | str) -> int:
        parsed = parse_decimal(_text(text))
        sz = scale(parsed, self.state.specs[asset].sz_decimals) if parsed is not None else None
        sz = BAD_SIZE if not sz else sz
        cache = self._sz_cache[asset]
        if (text.__class__ is str or text.__class__ is Decimal) and len(cache) < PARSE_CACHE_LIMIT:
            cache[text] = sz
        return sz

    def _validate_trigger(self, order: Order, request: OrderRequest) -> tuple[str, str] | None:
        trigger = request.order_type
        if trigger.__class__ is not Trigger:
            return "rejected", "Invalid TP/SL price."
        parsed = parse_decimal(_text(trigger.trigger_px))
        trigger_px = scale(parsed, order.pxd) if parsed is not None else None
        if not trigger_px or not price_on_tick(trigger_px, order.pxd):
            return "badTriggerPxRejected", "Invalid TP/SL price."
        order.trigger_px = trigger_px
        order.is_market = trigger.is_market is True
        order.tpsl = trigger.tpsl.value
        order.tif = None
        return None

    def _place(self, account: Account, request: OrderRequest, builder, touched: set, position_tpsl: bool = False):
        order = self._new_order(account, request, builder)
        if order.__class__ is Rejected:
            return order
        asset = order.asset
        if asset in self.state.post_only and order.tif != "Alo":
            return self.matching.reject(order, "rejected", POST_ONLY_MODE_ERROR.format(asset=asset))
        if order.tif is None:
            error = self._validate_trigger(order, request)
            if error is not None:
                return self.matching.reject(order, *error)
            order.position_tpsl = position_tpsl
        reference = self.state.oracle[asset]
        if reference is None:
            reference = self.state.mark(asset)
        px = order.px
        if reference is not None and abs(px - reference) * _BAND_DENOMINATOR > reference * _BAND_NUMERATOR:
            return self.matching.reject(order, "oracleRejected",
                                "Order price cannot be more than 80% away from the reference price")
        if px * order.sz < MIN_NOTIONAL and not self._closes_position(account, order):
            return self.matching.reject(order, "minTradeNtlRejected",
                                        f"Order must have minimum value of $10. asset={asset}")
        if order.trigger_px is not None:
            position = account.positions.get(asset)
            szi = position.szi if position is not None else 0
            if order.reduce_only and (szi == 0 or (szi > 0) == order.is_buy):
                return self.matching.reject(order, "reduceOnlyRejected",
                                    f"Reduce only order would increase position. asset={asset}")
            self.events.status(order, OPEN)
            self.matching.arm(order)
            return Resting(order.oid, order.cloid)
        return self.matching.submit(account, order, touched, check_margin=True)

    def _closes_position(self, account: Account, order: Order) -> bool:
        position = account.positions.get(order.asset)
        return (order.reduce_only and position is not None and (position.szi > 0) != order.is_buy
                and order.sz >= abs(position.szi))

    def cancel(self, user: str, cancels: list[tuple[int, int]]) -> list[CancelStatus]:
        """Cancel orders by ``(asset, oid)``; return `Success` or `Rejected` per cancel."""
        return self._cancel_many(user, cancels)

    def cancel_by_cloid(self, user: str, cancels: list[tuple[int, str]]) -> list[CancelStatus]:
        """Cancel orders by ``(asset, cloid)``; same statuses as ``cancel``."""
        return self._cancel_many(user, cancels)

    def _cancel_many(self, user: str, cancels: list) -> list:
        account = self.accounting.account(user)
        account.n_requests += len(cancels)
        self.events.begin()
        out: list = []
        for asset, key in cancels:
            order = self.state.find_order(account, key)
            if order is not None and order.asset == asset and self.matching.cancel_order(order):
                out.append(_SUCCESS)
            else:
                out.append(Rejected(f"Order was never placed, already canceled, or filled. asset={asset}"))
        self.events.flush()
        return out

    def batch_modify(self, user: str, modifies: list[tuple[int | str, OrderRequest]]) -> list[OrderStatus]:
        """Replace live orders: the old order is canceled and the new one gets a new oid."""
        account = self.accounting.account(user)
        self.events.begin()
        touched: set[int] = set()
        out: list = []
        for key, request in modifies:
            account.n_requests += 1
            order = self.state.find_order(account, key)
            if order is None or not self.matching.cancel_order(order):
                out.append(Rejected("Cannot modify canceled or filled order"))
                continue
            out.append(self._place(account, request, None, touched))
        if touched and self.state.armed:
            self.matching.after_trading(touched)
        self.events.flush()
        return out

    def schedule_cancel(self, user: str, time_ms: int | None) -> None:
        """Cancel all the user's open orders at ``time_ms`` (>= now + 5 s); None removes the schedule."""
        account = self.accounting.account(user)
        account.n_requests += 1
        if time_ms is None:
            account.scheduled_cancel = None
            return
        if time_ms < self.state.now_ms + SCHEDULE_MIN_DELAY_MS:
            raise EngineError("Scheduled cancel time too early, must be at least 5 seconds from now.")
        day = self.state.now_ms // DAY_MS
        if account.schedule_day == day and account.schedule_count >= MAX_SCHEDULED_CANCELS_PER_DAY:
            raise EngineError("Too many scheduled cancels today; the limit is 10 per day.")
        account.scheduled_cancel = time_ms


def _text(value: Decimal | str) -> str:
    """Return exact decimal text: text as given, a `Decimal` in plain notation, anything else as invalid."""
    if value.__class__ is str:
        return value
    return format(value, "f") if isinstance(value, Decimal) else ""


def _truncate(parsed: tuple[int, int] | None, decimals: int) -> int:
    if parsed is None:
        return 0
    mantissa, places = parsed
    return mantissa * 10**decimals // 10**places
