"""``POST /exchange``: verify, authenticate, burn the nonce, then run the action on the engine.

Order of checks mirrors the real exchange: the whole body must deserialize
(else HTTP 422, nothing recorded), then ``expiresAfter``, the signature and
the signer's existence, then the nonce. Once the nonce is accepted it stays
used even if the action itself fails (as on chain). Business failures are
HTTP 200 ``{"status":"err","response":"..."}``.

Builder fees: ``approveBuilderFee`` (user-signed) records the rate, ``maxBuilderFee`` reads it back,
and an order action naming a builder the user did not approve, or charging more than the approved
rate or the 0.1% perp cap, is refused as a whole with an action-level error. Third-party reports pin
``Builder fee has not been approved.`` and ``Builder has insufficient balance to be approved.``; they
disagree on whether the first comes action-level or inside ``statuses`` (this venue answers
action-level), and the texts for the cap and for malformed rates are this venue's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from pairflow.hyperliquid import schemas as rq
from venue.engine import (
    Builder, CancelStatus, EngineError, Grouping, Limit, OrderRequest, OrderStatus, Rejected, Tif, TpSl, Trigger,
)

from .wire import account as wire

from .auth import ActionRejected, Actor, authenticate_l1, authenticate_user_signed
from .nonces import NonceError, NonceTracker
from .ratelimit import AddressBudget

__all__ = ["ExchangeService"]

OK_DEFAULT = {"status": "ok", "response": {"type": "default"}}
MAX_AGENT_NAME_LENGTH = 16
_LIMITS = {tif.value: Limit(tif) for tif in Tif}
_TPSL = {kind.value: kind for kind in TpSl}
_GROUPINGS = {grouping.value: grouping for grouping in Grouping}
_PERCENT = re.compile(r"([0-9]{1,6}(?:\.[0-9]{1,12})?)%")


def _err(message: str) -> dict[str, Any]:
    return {"status": "err", "response": message}


def _statuses(kind: str, statuses: list) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": statuses}}}


def _order_statuses(statuses: list[OrderStatus]) -> dict[str, Any]:
    return _statuses("order", [wire.order_status(status) for status in statuses])


def _cancel_statuses(statuses: list[CancelStatus]) -> dict[str, Any]:
    return _statuses("cancel", [wire.cancel_status(status) for status in statuses])


def _order_requests(wires: list[rq.OrderWire]) -> list[OrderRequest]:
    return [OrderRequest(wire.a, wire.b, wire.p, wire.s, wire.r, _order_type(wire.t), wire.c) for wire in wires]


def _order_type(wire: rq.OrderTypeWire) -> Limit | Trigger:
    if wire.limit is not None:
        return _LIMITS[wire.limit.tif]
    trigger = wire.trigger
    return Trigger(trigger.triggerPx, trigger.isMarket, _TPSL[trigger.tpsl])


def fee_rate_tenths(rate: str) -> int:
    """Return an ``approveBuilderFee`` ``maxFeeRate`` (``"0.01%"``) in tenths of a basis point (``10``).

    The real exchange's answers to a malformed or too fine rate are not pinned down; these are ours.
    """
    match = _PERCENT.fullmatch(rate)
    if match is None:
        raise ActionRejected(f"Invalid max fee rate {rate!r}: it must be a percentage such as 0.01%.")
    tenths = Decimal(match.group(1)) * 1000
    if tenths != tenths.to_integral_value():
        raise ActionRejected(f"Invalid max fee rate {rate!r}: it must be a whole number of tenths of a basis point.")
    return int(tenths)


def _agent_name(name: str | None) -> tuple[str | None, int | None]:
    """Split ``"name valid_until <ms>"``; an empty or absent name approves the unnamed agent."""
    if not name:
        return None, None
    valid_until = None
    base, marker, until = name.partition(" valid_until ")
    if marker:
        if not until.isdigit():
            raise ActionRejected(f"Invalid agent name validity: {until}")
        valid_until = int(until)
    if not 1 <= len(base) <= MAX_AGENT_NAME_LENGTH:
        raise ActionRejected("Extra agent name must be between 1 and 16 characters long")
    return base, valid_until


class ExchangeService:
    """Handle decoded ``/exchange`` payloads against an engine.

    Parameters
    ----------
    engine
        The `venue.engine.Engine`; every call holds ``engine.lock``.
    nonces
        Nonce bookkeeping (kept outside the engine so it can be persisted separately).
    clock
        Exchange time in milliseconds for nonce windows and ``expiresAfter``; the SDK's
        nonces are wall-clock milliseconds, so this is wall time by default.
    networks
        Network flags tried in order when recovering signers (``False`` = testnet, what
        the SDK uses for any non-mainnet URL); ``(False, True)`` also accepts mainnet signatures.
    address_budget
        Per-address action budget; None lets every address send without limit.
    """

    def __init__(self, engine: Any, nonces: NonceTracker, clock: Callable[[], int],
                 networks: Iterable[bool] = (False,), address_budget: AddressBudget | None = None) -> None:
        self.engine = engine
        self.nonces = nonces
        self.clock = clock
        self.networks = tuple(networks)
        self.address_budget = address_budget

    def handle(self, payload: Any) -> dict[str, Any]:
        """Return the JSON response for one request body; raise `pairflow.hyperliquid.schemas.BadRequest` for HTTP 422."""
        request = rq.decode_exchange_request(payload)
        action_type = request.action.get("type")
        unsupported = rq.UNSUPPORTED_ACTION_TYPES.get(action_type) if isinstance(action_type, str) else None
        action = None if unsupported else rq.decode_action(request.action)
        user_signed = unsupported == "user" or isinstance(action, rq.UserSignedAction)
        try:
            actor = self._authenticate(request, user_signed)
            try:
                self.nonces.use(actor.signer, request.nonce, self.clock())
            except NonceError as exc:
                raise ActionRejected(str(exc)) from None
            if action is None:
                raise ActionRejected(f"Action {action_type} is not supported by this venue.")
            with self.engine.lock:
                return self._execute(actor.user, action)
        except ActionRejected as exc:
            return _err(str(exc))
        except EngineError as exc:
            return _err(str(exc))

    def execute_as(self, user: str, action: dict[str, Any], expires_after: int | None = None) -> dict[str, Any]:
        """Run one L1 action for ``user`` with no signature or nonce (the in-process client's path)."""
        try:
            self._check_expiry(expires_after)
            with self.engine.lock:
                return self._execute(user.lower(), rq.decode_action(action))
        except (ActionRejected, EngineError) as exc:
            return _err(str(exc))

    def _authenticate(self, request: rq.ExchangeRequest, user_signed: bool) -> Actor:
        if user_signed:
            if request.expiresAfter is not None:
                raise ActionRejected("expiresAfter is not supported for user-signed actions")
            inner_nonce = request.action.get("nonce", request.action.get("time"))
            if inner_nonce != request.nonce:
                raise ActionRejected(f"Invalid nonce: action nonce {inner_nonce} does not match {request.nonce}")
            return authenticate_user_signed(self.engine, request.action, request, self.networks)
        self._check_expiry(request.expiresAfter)
        return authenticate_l1(self.engine, request, self.networks)

    def _check_expiry(self, expires_after: int | None) -> None:
        if expires_after is not None and expires_after < self.clock():
            raise ActionRejected("Action already expired")

    def _check_budget(self, user: str, action: rq.Action) -> None:
        if self.address_budget is None:
            return
        if isinstance(action, rq.OrderAction):
            weight, is_cancel = len(action.orders), False
        elif isinstance(action, (rq.CancelAction, rq.CancelByCloidAction)):
            weight, is_cancel = len(action.cancels), True
        elif isinstance(action, rq.BatchModifyAction):
            weight, is_cancel = len(action.modifies), False
        elif isinstance(action, (rq.ModifyAction, rq.ScheduleCancelAction, rq.UpdateLeverageAction,
                                 rq.UpdateIsolatedMarginAction)):
            weight, is_cancel = 1, False
        else:
            return
        limits = wire.user_rate_limit(self.engine.user_rate_limit(user))
        refusal = self.address_budget.refusal(user, limits, weight, is_cancel)
        if refusal is not None:
            raise ActionRejected(refusal)

    def _execute(self, user: str, action: rq.Action) -> dict[str, Any]:
        engine = self.engine
        self._check_budget(user, action)
        if isinstance(action, rq.OrderAction):
            orders = _order_requests(action.orders)
            grouping = _GROUPINGS.get(action.grouping, Grouping.NA)  # a priority grouping {"p": n} acts as "na"
            builder = None
            if action.builder is not None:
                builder = Builder(action.builder.b.lower(), action.builder.f)
            return _order_statuses(engine.place_orders(user, orders, grouping=grouping, builder=builder))
        if isinstance(action, rq.CancelAction):
            return _cancel_statuses(engine.cancel(user, [(c.a, c.o) for c in action.cancels]))
        if isinstance(action, rq.CancelByCloidAction):
            return _cancel_statuses(engine.cancel_by_cloid(user, [(c.asset, c.cloid) for c in action.cancels]))
        if isinstance(action, rq.BatchModifyAction):
            orders = _order_requests([m.order for m in action.modifies])
            modifies = [(m.oid, order) for m, order in zip(action.modifies, orders)]
            return _order_statuses(engine.batch_modify(user, modifies))
        if isinstance(action, rq.ModifyAction):
            (order,) = _order_requests([action.order])
            (status,) = engine.batch_modify(user, [(action.oid, order)])
            if isinstance(status, Rejected):
                return _err(status.message)
            return OK_DEFAULT
        if isinstance(action, rq.ScheduleCancelAction):
            engine.schedule_cancel(user, action.time)
        elif isinstance(action, rq.UpdateLeverageAction):
            engine.update_leverage(user, action.asset, action.isCross, action.leverage)
        elif isinstance(action, rq.UpdateIsolatedMarginAction):
            engine.update_isolated_margin(user, action.asset, action.ntli)
        elif isinstance(action, rq.ApproveAgentAction):
            name, valid_until = _agent_name(action.agentName)
            engine.approve_agent(user, action.agentAddress.lower(), name, valid_until)
        elif isinstance(action, rq.ApproveBuilderFeeAction):
            engine.approve_builder_fee(user, action.builder.lower(), fee_rate_tenths(action.maxFeeRate))
        elif isinstance(action, rq.UsdClassTransferAction):
            if " subaccount:" in action.amount:
                raise ActionRejected("Vault not registered")
            engine.usd_class_transfer(user, action.amount, action.toPerp)
        elif isinstance(action, rq.UsdSendAction):
            engine.usd_send(user, action.destination.lower(), action.amount)
        return OK_DEFAULT
