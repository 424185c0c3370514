"""The order router: a spread's leg orders, checked, priced, rounded, sent, and seen through to a fate.

One call to `OrderRouter.execute` handles one spread change (all its legs):

* price from the order type -- marketable IOC within ``slippage_bps`` of the
  mark, limit at the mark, or post-only (ALO) on the passive side, fixed by
  configuration or, with ``order_type = "auto"``, chosen per leg from the cost
  model (`operators.order_type.choose_order_type`: fees, the leg's half-spread
  and depth, urgency) -- and
  rounding by coin name; every leg runs the inline risk checks first and one
  refused leg refuses the spread (never one leg of a pair);
* cloids come from the signal id and the leg's coin; a cloid already in the
  write-ahead journal is skipped, so a replayed signal cannot trade twice;
* legs go thinnest first; the next leg is sized from what the previous one
  filled. A leg that does not fill is tried once more at twice the slippage
  (complete), else what did fill is unwound with reduce-only IOCs; a leg
  that fills only in part has the earlier legs trimmed to the same fraction;
* every order request carries ``expiresAfter`` (``order_lifetime_s`` past the
  send, on the executor's request clock) and its cloid is journaled with it:
  the exchange refuses a copy that arrives later, which is what lets a restart
  send again an order the exchange never received without risking a second
  one (`operators.orders.may_resend`); an order refused as expired is "not
  placed", logged, and never retried by the router;
* a request without an answer leaves its order UNKNOWN until ``orderStatus``
  by cloid resolves it -- never a blind resend; an ``unknownOid`` answer
  resolves it as never received only when asked after the order's expiry; while it stays UNKNOWN the
  spread stops there (no completion, no next leg) and `settle`, called at
  reconciliation, asks again;
* an exchange in "post-only" mode pauses taker legs (refused with a reason,
  nothing sent) instead of failing;
* `heartbeat` re-arms ``scheduleCancel`` (dead-man switch), `shutdown` cancels
  everything still open.

Every decision comes back as events: `Order` records (status changes, with
the reason on refusals) and `Alert` records for what an operator must see.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

import msgspec

from operators.order_rules import AssetRules
from operators.order_type import choose_order_type
from operators.orders import OrderTracker, cloid_for, may_resend
from operators.risk_checks import OrderCheck, PreTrade, RiskLimits, pre_trade
from operators.trading_costs import LegCost
from pairflow.clock import WALL_CLOCK, Clock
from pairflow.config import ExecutionSettings
from pairflow.events import Alert, Order
from pairflow.hyperliquid.client import HyperliquidError
from pairflow.logs import get_logger
from pairflow.metrics import EXECUTION_ORDERS_REJECTED, EXECUTION_ORDERS_SUBMITTED
from sinks.executor import Executor, LegOrder, OrderStateUnknown, Placement
from sinks.order_journal import OrderJournal

__all__ = ["LEG_TAGS", "LegPlan", "OrderRouter", "RouterConfig", "reason_kind"]

_log = get_logger(__name__)
_POLL_S = 0.05
_TIF_OF = {"ioc": "Ioc", "limit": "Gtc", "post_only": "Alo"}
DEFAULT_MAKER_FEE, DEFAULT_TAKER_FEE = 0.00015, 0.00045
"""Hyperliquid's base-tier perp fee rates: the router's ``fees`` until the account's fee schedule is seen."""
_SETTINGS = ExecutionSettings()
EXPIRED = "Action already expired"
"""The exchange's answer to a request that arrived after its ``expiresAfter`` (nothing was placed)."""
_POST_ONLY_MODE = re.compile(r"post[- ]only orders? (are )?allowed|only post[- ]only", re.IGNORECASE)


class RouterConfig(msgspec.Struct, frozen=True):
    """How orders are priced and followed.

    ``order_type`` is ``ioc`` (marketable within ``slippage_bps``), ``limit``
    (Gtc at the mark), ``post_only`` (Alo ``passive_bps`` inside the mark) or
    ``auto`` (one of those per leg from its costs; resting must save at least
    ``maker_edge_bps``).
    ``taker_pause_s`` is how long, on the router's clock, taker legs stay
    paused after the exchange answered that it accepts only post-only orders.
    The fields named like an ``[execution]`` setting default to it (`from_settings` takes them all).
    """

    order_type: str = _SETTINGS.order_type
    slippage_bps: float = _SETTINGS.slippage_bps
    passive_bps: float = 2.0
    leg_timeout_s: float = _SETTINGS.leg_timeout_s
    status_retries: int = 5
    dead_man_s: float = _SETTINGS.dead_man_s
    taker_pause_s: float = 60.0
    maker_edge_bps: float = _SETTINGS.maker_edge_bps
    order_lifetime_s: float = _SETTINGS.order_lifetime_s

    @classmethod
    def from_settings(cls, execution: ExecutionSettings) -> RouterConfig:
        """Return the router's configuration with the ``[execution]`` settings it shares."""
        return cls(order_type=execution.order_type, maker_edge_bps=execution.maker_edge_bps,
                   slippage_bps=execution.slippage_bps, leg_timeout_s=execution.leg_timeout_s,
                   dead_man_s=execution.dead_man_s, order_lifetime_s=execution.order_lifetime_s)


COMPLETE, TRIM, UNWIND = ":complete", ":trim", ":unwind"
LEG_TAGS = ("", COMPLETE, TRIM, UNWIND)
"""What the router appends to a signal id for the cloids of one leg's orders: the order itself, its IOC
completion, a trim and an unwind (a replay of a session finds every order of a signal through them)."""


class LegPlan(msgspec.Struct, frozen=True):
    """One coin's change for one signal: signed size, mark, liquidity (lower = thinner, goes first).

    ``urgent`` legs (closing, stops, flattening) go out as IOC under ``auto``;
    ``cost`` is the leg's half-spread and impact from its latest book, when seen.
    """

    coin: str
    delta: float
    mark: float
    signal_id: str
    pair: str = ""
    reduce_only: bool = False
    liquidity: float = 0.0
    urgent: bool = False
    cost: LegCost | None = None


class OrderRouter:
    """Send spread changes through risk checks to an `Executor`; see the module docstring."""

    def __init__(self, executor: Executor, rules: AssetRules, journal: OrderJournal, *,
                 limits: RiskLimits | None = None, config: RouterConfig | None = None,
                 clock: Clock = WALL_CLOCK, tracker: OrderTracker | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.executor = executor
        self.rules = rules
        self.journal = journal
        self.limits = limits or RiskLimits()
        self.config = config or RouterConfig()
        self.clock = clock
        self.tracker = tracker or OrderTracker()
        # When each recent order went out, on the market-data time the order-rate check reads (PreTrade.now_ms):
        # the host's clock may be off from the exchange's or jump (an NTP step), which would count orders
        # against the limit for an hour or not at all.
        self.sent_ms: deque[int] = deque(maxlen=1000)
        self._decided_ms = 0
        self.taker_paused_until_ms = 0
        self.fees = (DEFAULT_MAKER_FEE, DEFAULT_TAKER_FEE)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._dead_man_armed = 0.0
        self._version = 0

    # ---- pricing and checks -------------------------------------------------------------------------

    def tif_for(self, plan: LegPlan) -> str:
        """Return the time in force ``plan`` goes out with now (``Ioc``, ``Gtc`` or ``Alo``)."""
        order_type = self.config.order_type
        if order_type == "auto":
            maker_fee, taker_fee = self.fees
            order_type, why = choose_order_type(
                plan.cost, maker_fee=maker_fee, taker_fee=taker_fee, urgent=plan.urgent or plan.reduce_only,
                slippage_bps=self.config.slippage_bps, maker_edge_bps=self.config.maker_edge_bps,
                takers_paused=self.clock.now_ms() < self.taker_paused_until_ms)
            _log.debug("order type chosen", extra={"coin": plan.coin, "order_type": order_type, "why": why})
        return _TIF_OF[order_type]

    def _price(self, coin: str, is_buy: bool, mark: float, tif: str, slippage_bps: float) -> float:
        if tif == "Ioc":
            factor = 1 + slippage_bps / 1e4 if is_buy else 1 - slippage_bps / 1e4
            return self.rules.price(coin, mark * factor, "up" if is_buy else "down")
        if tif == "Alo":
            factor = 1 - self.config.passive_bps / 1e4 if is_buy else 1 + self.config.passive_bps / 1e4
            return self.rules.price(coin, mark * factor, "down" if is_buy else "up")
        return self.rules.price(coin, mark)

    def _leg(self, plan: LegPlan, size: float, tif: str, slippage_bps: float, tag: str = "",
             reduce_only: bool | None = None) -> LegOrder:
        is_buy = size > 0
        return LegOrder(coin=plan.coin, is_buy=is_buy, sz=self.rules.size(plan.coin, size),
                        px=self._price(plan.coin, is_buy, plan.mark, tif, slippage_bps),
                        cloid=cloid_for(plan.signal_id + tag, plan.coin), tif=tif,
                        reduce_only=plan.reduce_only if reduce_only is None else reduce_only)

    def _refusal(self, leg: LegOrder, reason: str) -> Order:
        EXECUTION_ORDERS_SUBMITTED.labels(coin=leg.coin).inc()
        EXECUTION_ORDERS_REJECTED.labels(coin=leg.coin, reason=reason_kind(reason)).inc()
        return Order(ts=self.clock.now_ms(), recv_ts=self._stamp(), id=leg.cloid, coin=leg.coin, cloid=leg.cloid,
                     oid=None, is_buy=leg.is_buy, sz=leg.sz, limit_px=leg.px, status="rejected", reason=reason)

    # ---- the spread --------------------------------------------------------------------------------

    def execute(self, plans: Sequence[LegPlan], ctx: PreTrade) -> list[Order | Alert]:
        """Check, send and follow every leg of one spread change; return the events it produced."""
        with self._lock:
            return self._execute(plans, ctx)

    def _execute(self, plans: Sequence[LegPlan], ctx: PreTrade) -> list[Order | Alert]:
        plans = [plan for plan in plans if self.rules.size(plan.coin, plan.delta) > 0]
        legs = [self._leg(plan, plan.delta, self.tif_for(plan), self.config.slippage_bps) for plan in plans]
        fresh = [(plan, leg) for plan, leg in zip(plans, legs, strict=True) if leg.cloid not in self.journal.sent]
        if len(fresh) < len(legs):
            _log.info("skipped legs whose cloid was already sent", extra={"count": len(legs) - len(fresh)})
        if not fresh:
            return []
        if any(leg.tif == "Ioc" for _, leg in fresh) and self.clock.now_ms() < self.taker_paused_until_ms:
            reason = "taker_paused: the exchange allows only post-only orders"
            return [self._refusal(leg, reason) for _, leg in fresh]
        self._decided_ms = ctx.now_ms
        while self.sent_ms and self.sent_ms[0] <= ctx.now_ms - 60_000:  # the order-rate check looks back one minute
            self.sent_ms.popleft()
        ctx = msgspec.structs.replace(ctx, recent_orders_ms=tuple(self.sent_ms))
        for _, leg in fresh:
            check = OrderCheck(leg.coin, leg.sz if leg.is_buy else -leg.sz, leg.px, leg.reduce_only)
            reason = pre_trade(check, ctx, self.limits, self.rules)
            if reason:
                _log.warning("order refused by risk", extra={"coin": leg.coin, "reason": reason})
                return [self._refusal(other, reason if other is leg else f"spread_refused: {reason}")
                        for _, other in fresh]
        fresh.sort(key=lambda pair: pair[0].liquidity)
        return self._legs_in_order(fresh)

    def _legs_in_order(self, fresh: list[tuple[LegPlan, LegOrder]]) -> list[Order | Alert]:
        out: list[Order | Alert] = []
        done: list[tuple[LegPlan, float]] = []
        ratio = 1.0
        for index, (plan, leg) in enumerate(fresh):
            if ratio < 1.0:
                leg = msgspec.structs.replace(leg, sz=self.rules.size(plan.coin, plan.delta * ratio))
            filled, events = self._fill(leg) if leg.sz > 0 else (0.0, [])
            out += events
            if leg.cloid in self.tracker.orders and self.tracker.orders[leg.cloid].status == "unknown":
                return out  # it may have filled: no completion, no next leg, no unwind until reconciliation settles it
            if filled < leg.sz and leg.tif == "Ioc" and not not_retried(events):
                # both are whole lots, their float difference is not (1.7 - 1.5 = 0.19999...): round
                # before the lot truncation, or the retry comes out one lot short
                retry = self._leg(plan, round(leg.sz - filled, 10) * (1 if leg.is_buy else -1), leg.tif,
                                  2 * self.config.slippage_bps, COMPLETE)
                more, events = self._fill(retry)
                out += events
                filled += more
            if filled == 0:
                if done:
                    out += self._unwind(done, [p.coin for p, _ in fresh[index:]])
                return out
            done.append((plan, filled if leg.is_buy else -filled))
            ratio = min(ratio, filled / abs(plan.delta))
        return out + self._trim(done, ratio)

    def _trim(self, done: list[tuple[LegPlan, float]], ratio: float) -> list[Order | Alert]:
        """Cut legs that filled beyond ``ratio`` of their plan back to it, so the spread keeps its hedge ratio.

        A later leg that filled only in part leaves the earlier ones oversized; the excess is sent back
        as an IOC (reduce-only when the leg had added to the position).
        """
        # rounded before the lot truncation, like the IOC retry's remainder
        excess = [(plan, round(filled - math.copysign(self.rules.size(plan.coin, abs(plan.delta) * ratio), filled),
                               10)) for plan, filled in done]
        excess = [(plan, extra) for plan, extra in excess if self.rules.size(plan.coin, extra) != 0]
        if not excess:
            return []
        out: list[Order | Alert] = [Alert(ts=self.clock.now_ms(), id=f"leg-trim:{done[0][0].signal_id}",
                                          severity="warning", source="execution",
                                          message=f"legs filled {ratio:.0%} of the spread; trimming "
                                                  + ", ".join(plan.coin for plan, _ in excess))]
        for plan, extra in excess:
            leg = self._leg(plan, -extra, "Ioc", 2 * self.config.slippage_bps, TRIM,
                            reduce_only=not plan.reduce_only)
            out += self._fill(leg)[1]
        return out

    def _unwind(self, done: list[tuple[LegPlan, float]], missing: list[str]) -> list[Order | Alert]:
        out: list[Order | Alert] = [Alert(ts=self.clock.now_ms(), id=f"leg-risk:{done[0][0].signal_id}",
                                          severity="warning", source="execution",
                                          message=f"legs {', '.join(missing)} did not fill; unwinding "
                                                  + ", ".join(plan.coin for plan, _ in done))]
        for plan, filled in done:
            if self.rules.size(plan.coin, filled) == 0:
                continue
            leg = self._leg(plan, -filled, "Ioc", 2 * self.config.slippage_bps, UNWIND, reduce_only=True)
            out += self._fill(leg)[1]
        return out

    # ---- one order ---------------------------------------------------------------------------------

    def _stamp(self) -> int:
        """Return a strictly increasing version for order records (their table keeps the highest)."""
        self._version = max(WALL_CLOCK.now_ms(), self._version + 1)
        return self._version

    def _record(self, leg: LegOrder, status: str, placement: Placement | None = None, reason: str = "") -> Order:
        order = Order(ts=self.clock.now_ms(), recv_ts=self._stamp(), id=leg.cloid, coin=leg.coin, cloid=leg.cloid,
                      oid=placement.oid if placement else None, is_buy=leg.is_buy, sz=leg.sz, limit_px=leg.px,
                      status=status, filled_sz=placement.filled_sz if placement else 0.0,
                      avg_px=placement.avg_px if placement else None, reason=reason)
        # the tracker's view: the report merged with the fills already counted for this order
        return (self.tracker.update(order) or [self.tracker.orders[order.cloid]])[0]

    def _fill(self, leg: LegOrder) -> tuple[float, list[Order | Alert]]:
        """Send one order and follow it to a fate; return (filled size, events)."""
        expires_after = self.executor.now_ms() + round(self.config.order_lifetime_s * 1000)
        self.journal.record(leg.cloid, expires_after)
        EXECUTION_ORDERS_SUBMITTED.labels(coin=leg.coin).inc()
        out: list[Order | Alert] = [self._record(leg, "pending")]
        self.sent_ms.append(self._decided_ms)
        try:
            (placement,) = self.executor.place([leg], expires_after)
        except OrderStateUnknown as error:
            out.append(self._record(leg, "unknown", reason=str(error)))
            asked_ms = self.executor.now_ms()  # no later than the query that answers
            placement = self._resolve(leg)
            if placement is not None and placement.status == "unknownOid" and not self._lost(leg.cloid, asked_ms):
                placement = None  # not there yet, but the request may still arrive until its expiry
            if placement is None:
                out.append(Alert(ts=self.clock.now_ms(), id=f"unknown:{leg.cloid}", severity="critical",
                                 source="execution", coin=leg.coin,
                                 message=f"order {leg.cloid} still unknown after {self.config.status_retries} "
                                         "status queries; not resent, entries need reconciliation"))
                return 0.0, out
            if placement.status == "unknownOid":
                out.append(self._record(leg, "rejected", reason="not received by the exchange"))
                return 0.0, out
        if placement.status == "rejected":
            EXECUTION_ORDERS_REJECTED.labels(coin=leg.coin, reason=reason_kind(placement.error)).inc()
            if placement.error == EXPIRED:
                _log.warning("order reached the exchange after its expiresAfter: not placed, not retried",
                             extra={"cloid": leg.cloid, "coin": leg.coin, "expires_after": expires_after,
                                    "order_lifetime_s": self.config.order_lifetime_s})
            if _POST_ONLY_MODE.search(placement.error):
                self.taker_paused_until_ms = self.clock.now_ms() + int(self.config.taker_pause_s * 1000)
                out.append(self._record(leg, "rejected", placement, f"taker_paused: {placement.error}"))
                return 0.0, out
            out.append(self._record(leg, "rejected", placement, placement.error))
            return 0.0, out
        if placement.status == "resting":
            out.append(self._record(leg, "open", placement))
            placement = self._await_resting(leg)
        status = "filled" if placement.filled_sz >= leg.sz - 1e-12 else (
            "partial" if placement.status == "resting" else "canceled")
        out.append(self._record(leg, status, placement))
        return placement.filled_sz, out

    def _lost(self, cloid: str, asked_ms: int) -> bool:
        """Tell whether an order the exchange answered ``unknownOid`` about, asked at ``asked_ms``, can never arrive.

        Only when asked after its ``expiresAfter`` (`operators.orders.may_resend`): before, the request
        may still be on its way, and counting it as never received would let it fill behind our back.
        """
        return may_resend("unknownOid", self.journal.expires.get(cloid), asked_ms).verdict == "send"

    def _resolve(self, leg: LegOrder) -> Placement | None:
        for attempt in range(self.config.status_retries):
            try:
                return self.executor.status(leg.cloid)
            except OrderStateUnknown:
                self._sleep(min(2.0, 0.1 * 2**attempt))
        return None

    def settle(self, cloids: Sequence[str]) -> list[Order]:
        """Ask the exchange, by cloid, the fate of orders we hold open that its open orders no longer list.

        Reconciliation calls it: an order left UNKNOWN (no answer, status queries timed out) or whose
        cancel got no answer has since filled, been cancelled or never arrived; its final record comes
        back (none for an order still unanswered, or unknown to the exchange before its expiry: its
        request may still arrive). Nothing is ever resent.
        """
        out: list[Order] = []
        for cloid in cloids:
            known = self.tracker.orders[cloid]
            asked_ms = self.executor.now_ms()
            try:
                placement = self.executor.status(cloid)
            except OrderStateUnknown:
                continue
            if placement.status == "resting" or (placement.status == "unknownOid" and not self._lost(cloid, asked_ms)):
                continue
            leg = LegOrder(known.coin, known.is_buy, known.sz, known.limit_px, cloid, reduce_only=False)
            if placement.status == "unknownOid":
                out.append(self._record(leg, "rejected", reason="not received by the exchange"))
            else:
                status = "filled" if placement.filled_sz >= known.sz - 1e-12 else "canceled"
                out.append(self._record(leg, status, placement))
        return out

    def _await_resting(self, leg: LegOrder) -> Placement:
        # A fixed number of polls rather than a wall-clock deadline: a backtest's injected sleep lets
        # recorded time pass instead of waiting, and must end after the same polls on every run.
        placement = Placement(leg.cloid, "resting")
        for _ in range(max(1, math.ceil(self.config.leg_timeout_s / _POLL_S))):
            self._sleep(_POLL_S)
            placement = self._resolve(leg) or placement
            if placement.status != "resting":
                return placement
        try:
            self.executor.cancel([(leg.coin, leg.cloid)])
        except HyperliquidError as error:
            _log.warning("cancel got no answer; the order stays tracked", extra={"cloid": leg.cloid, "error": str(error)})
        return self._resolve(leg) or placement

    # ---- lifecycle ---------------------------------------------------------------------------------

    def heartbeat(self) -> None:
        """Re-arm the dead-man switch when half its window has passed (no-op when ``dead_man_s`` is 0)."""
        if not self.config.dead_man_s or time.monotonic() < self._dead_man_armed + self.config.dead_man_s / 2:
            return
        self.executor.schedule_cancel(self.clock.now_ms() + int(self.config.dead_man_s * 1000))
        self._dead_man_armed = time.monotonic()

    def shutdown(self) -> int:
        """Cancel every order we know to be open and disarm the dead-man switch; return how many were cancelled."""
        with self._lock:
            open_orders = [(self.tracker.orders[cloid].coin, cloid) for cloid in self.tracker.open_cloids()]
            cancelled = sum(self.executor.cancel(open_orders))
            if self.config.dead_man_s:
                self.executor.schedule_cancel(None)
            return cancelled


def not_retried(events: Sequence[Order | Alert]) -> bool:
    """Tell whether a leg was refused in a way its IOC completion must not retry.

    Taker orders are paused (a retry would be refused too), or the request arrived after its
    ``expiresAfter``: the link to the exchange is slow, and the spread stops there rather than send more into it.
    """
    return any(isinstance(event, Order) and (event.reason.startswith("taker_paused") or event.reason == EXPIRED)
               for event in events)


def reason_kind(reason: str) -> str:
    """Return a refusal's kind for the rejection metric: our check's name, or the exchange's text without numbers.

    Examples
    --------
    >>> reason_kind("min_notional: 5.98 USDC is under the 10 USDC minimum")
    'min_notional'
    >>> reason_kind("Order could not immediately match against any resting orders. asset=4")
    'Order could not immediately match against any resting orders.'
    >>> reason_kind("Post only order would have immediately matched, bbo was 0.56057@0.56086. asset=31")
    'Post only order would have immediately matched, bbo was N@N.'
    """
    head = reason.split(":", 1)[0]
    if head.isidentifier():
        return head
    return re.sub(r"\s*asset=N$", "", re.sub(r"\d+(\.\d+)?", "N", reason))[:100]
