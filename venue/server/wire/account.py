"""A user's side on the wire: order and cancel statuses, orders, fills, account state, ledgers, fees, limits."""

from __future__ import annotations

from typing import Any

from venue.engine import Filled, Rejected, Resting, Success, TpSl, WaitingForFill, WaitingForTrigger
from venue.engine.fees import MAKER_REBATES, PERP_TIERS, RATE_SCALE_DECIMALS, SPOT_TIERS
from venue.engine.rules import dec
from venue.engine.views import (
    AccountState, Agent, CanceledOrder, ClassTransfer, Deposit, Fill, FundingPayment, InternalTransfer, LedgerUpdate,
    Liquidation, MarginSummary, OrderRecord, OrderView, PositionState, RateLimit, SpotBalance, UserFees,
)

from .numbers import optional, text


def order_status(status: Any) -> Any:
    """Return one entry of an order action's ``data.statuses``."""
    kind = status.__class__
    if kind is Resting:
        body: dict[str, Any] = {"oid": status.oid}
        if status.cloid is not None:
            body["cloid"] = status.cloid
        return {"resting": body}
    if kind is Filled:
        body = {"totalSz": text(status.total_sz), "avgPx": text(status.avg_px), "oid": status.oid}
        if status.cloid is not None:
            body["cloid"] = status.cloid
        return {"filled": body}
    if kind is Rejected:
        return {"error": status.message}
    if kind is WaitingForFill:
        return "waitingForFill"
    if kind is WaitingForTrigger:
        return "waitingForTrigger"
    raise TypeError(f"not an order status: {status!r}")


def cancel_status(status: Success | Rejected) -> Any:
    """Return one entry of a cancel action's ``data.statuses``."""
    return "success" if status.__class__ is Success else {"error": status.message}


def basic_order(view: OrderView) -> dict[str, Any]:
    """Return the ``openOrders`` / ``orderUpdates`` order object."""
    wire = {"coin": view.coin, "side": "B" if view.is_buy else "A", "limitPx": text(view.limit_px),
            "sz": text(view.sz), "oid": view.oid, "timestamp": view.time_ms, "origSz": text(view.orig_sz)}
    if view.cloid is not None:
        wire["cloid"] = view.cloid
    return wire


def frontend_order(view: OrderView) -> dict[str, Any]:
    """Return the ``frontendOpenOrders`` / ``orderStatus`` / ``historicalOrders`` order object."""
    trigger = view.trigger_px is not None
    if trigger:
        word = "above" if view.is_buy == (view.tpsl is TpSl.SL) else "below"
        condition = f"Price {word} {text(view.trigger_px)}"
    else:
        condition = "N/A"
    return {
        "coin": view.coin, "side": "B" if view.is_buy else "A", "limitPx": text(view.limit_px),
        "sz": text(view.sz), "oid": view.oid, "timestamp": view.time_ms, "triggerCondition": condition,
        "isTrigger": trigger, "triggerPx": text(view.trigger_px) if trigger else "0.0",
        "children": [frontend_order(child) for child in view.children],
        "isPositionTpsl": view.is_position_tpsl, "reduceOnly": view.reduce_only, "orderType": view.order_type,
        "origSz": text(view.orig_sz), "tif": None if view.tif is None else view.tif.value, "cloid": view.cloid,
    }


def order_update(record: OrderRecord) -> dict[str, Any]:
    """Return one ``orderUpdates`` entry."""
    return {"order": basic_order(record.order), "status": record.status.value, "statusTimestamp": record.status_time_ms}


def historical_order(record: OrderRecord) -> dict[str, Any]:
    """Return one ``historicalOrders`` entry."""
    return {"order": frontend_order(record.order), "status": record.status.value,
            "statusTimestamp": record.status_time_ms}


def order_status_response(record: OrderRecord | None) -> dict[str, Any]:
    """Return the ``orderStatus`` response: the order with its status, or ``unknownOid``."""
    if record is None:
        return {"status": "unknownOid"}
    return {"status": "order", "order": historical_order(record)}


def fill(entry: Fill) -> dict[str, Any]:
    """Return the fill object of ``userFills`` and the WS user channels."""
    out: dict[str, Any] = {
        "coin": entry.coin, "px": text(entry.px), "sz": text(entry.sz), "side": "B" if entry.is_buy else "A",
        "time": entry.time_ms, "startPosition": text(entry.start_position), "dir": entry.direction,
        "closedPnl": text(entry.closed_pnl), "hash": entry.hash, "oid": entry.oid, "crossed": entry.crossed,
        "fee": text(entry.fee), "tid": entry.tid}
    if entry.builder_fee is not None:
        out["builderFee"] = text(entry.builder_fee)
    if entry.cloid is not None:
        out["cloid"] = entry.cloid
    if entry.liquidation is not None:
        liquidation = entry.liquidation
        out["liquidation"] = {"liquidatedUser": liquidation.liquidated_user, "markPx": text(liquidation.mark_px),
                              "method": liquidation.method}
    out["feeToken"] = "USDC"
    out["twapId"] = None
    return out


def _summary(summary: MarginSummary) -> dict[str, str]:
    return {"accountValue": text(summary.account_value), "totalNtlPos": text(summary.total_ntl_pos),
            "totalRawUsd": text(summary.total_raw_usd), "totalMarginUsed": text(summary.total_margin_used)}


def position(state: PositionState) -> dict[str, Any]:
    """Return one ``assetPositions`` entry."""
    leverage: dict[str, Any] = {"type": "cross" if state.leverage.is_cross else "isolated",
                                "value": state.leverage.value}
    if state.leverage.raw_usd is not None:
        leverage["rawUsd"] = text(state.leverage.raw_usd)
    funding = state.cumulative_funding
    return {"type": "oneWay", "position": {
        "coin": state.coin, "szi": text(state.szi), "leverage": leverage, "entryPx": text(state.entry_px),
        "positionValue": text(state.position_value), "unrealizedPnl": text(state.unrealized_pnl),
        "returnOnEquity": text(state.return_on_equity), "liquidationPx": optional(state.liquidation_px),
        "marginUsed": text(state.margin_used), "maxLeverage": state.max_leverage,
        "cumFunding": {"allTime": text(funding.all_time), "sinceOpen": text(funding.since_open),
                       "sinceChange": text(funding.since_change)}}}


def clearinghouse_state(state: AccountState) -> dict[str, Any]:
    """Return the ``clearinghouseState`` response."""
    return {
        "marginSummary": _summary(state.margin_summary),
        "crossMarginSummary": _summary(state.cross_margin_summary),
        "crossMaintenanceMarginUsed": text(state.cross_maintenance_margin_used),
        "withdrawable": text(state.withdrawable),
        "assetPositions": [position(entry) for entry in state.positions],
        "time": state.time_ms,
    }


def spot_clearinghouse_state(balances: list[SpotBalance]) -> dict[str, Any]:
    """Return the ``spotClearinghouseState`` response."""
    return {"balances": [{"coin": balance.coin, "token": balance.token, "hold": text(balance.hold),
                          "total": text(balance.total), "entryNtl": text(balance.entry_ntl)} for balance in balances]}


def funding_delta(payment: FundingPayment) -> dict[str, Any]:
    """Return the funding fields shared by ``userFunding`` deltas and WS funding events."""
    return {"coin": payment.coin, "usdc": text(payment.usdc), "szi": text(payment.szi),
            "fundingRate": text(payment.rate), "nSamples": payment.samples}


def user_funding(payment: FundingPayment) -> dict[str, Any]:
    """Return one ``userFunding`` entry."""
    return {"delta": {"type": "funding", **funding_delta(payment)}, "hash": payment.hash, "time": payment.time_ms}


def funding_event(payment: FundingPayment) -> dict[str, Any]:
    """Return a funding payment as the WS ``user`` / ``userFundings`` channels carry it."""
    return {**funding_delta(payment), "time": payment.time_ms}


def ledger_update(update: LedgerUpdate) -> dict[str, Any]:
    """Return one ``userNonFundingLedgerUpdates`` entry."""
    delta = update.delta
    if isinstance(delta, Deposit):
        body: dict[str, Any] = {"type": "deposit", "usdc": text(delta.usdc)}
    elif isinstance(delta, ClassTransfer):
        body = {"type": "accountClassTransfer", "usdc": text(delta.usdc), "toPerp": delta.to_perp}
    elif isinstance(delta, InternalTransfer):
        body = {"type": "internalTransfer", "usdc": text(delta.usdc), "user": delta.user,
                "destination": delta.destination, "fee": text(delta.fee)}
    else:
        raise TypeError(f"not a ledger delta: {delta!r}")
    return {"time": update.time_ms, "hash": update.hash, "delta": body}


def liquidation(event: Liquidation) -> dict[str, Any]:
    """Return the WS ``user`` channel's liquidation object."""
    return {"lid": event.lid, "liquidator": event.liquidator, "liquidated_user": event.liquidated_user,
            "liquidated_ntl_pos": text(event.liquidated_ntl_pos),
            "liquidated_account_value": text(event.liquidated_account_value)}


def non_user_cancel(order: CanceledOrder) -> dict[str, Any]:
    """Return one ``nonUserCancel`` entry."""
    return {"coin": order.coin, "oid": order.oid}


def _rate(rate: int) -> str:
    return text(dec(rate, RATE_SCALE_DECIMALS))


def fee_schedule(base_taker: Any, base_maker: Any) -> dict[str, Any]:
    """Return the ``feeSchedule`` object: the base rates and the documented VIP and market-maker tiers."""
    vip = [{"ntlCutoff": f"{perp[0]}.0", "cross": _rate(perp[1]), "add": _rate(perp[2]),
            "spotCross": _rate(spot[1]), "spotAdd": _rate(spot[2])}
           for perp, spot in zip(reversed(PERP_TIERS), SPOT_TIERS)]
    return {
        "cross": text(base_taker), "add": text(base_maker),
        "spotCross": "0.0007", "spotAdd": "0.0004",
        "tiers": {"vip": vip, "mm": [{"makerFractionCutoff": cut, "add": add} for cut, add in MAKER_REBATES]},
        "referralDiscount": "0.04",
        "stakingDiscountTiers": [{"bpsOfMaxSupply": "0.0", "discount": "0.0"}],
    }


def user_fees(fees: UserFees) -> dict[str, Any]:
    """Return the ``userFees`` response."""
    days = [{"date": day.date, "userCross": text(day.user_cross), "userAdd": text(day.user_add),
             "exchange": text(day.exchange)} for day in fees.daily_volumes]
    return {"dailyUserVlm": days, "feeSchedule": fee_schedule(fees.base_taker_rate, fees.base_maker_rate),
            "userCrossRate": text(fees.taker_rate), "userAddRate": text(fees.maker_rate),
            "userSpotCrossRate": "0.0007", "userSpotAddRate": "0.0004", "activeReferralDiscount": "0.0",
            "trial": None, "feeTrialReward": "0.0", "nextTrialAvailableTimestamp": None, "stakingLink": None,
            "activeStakingDiscount": None}


def user_rate_limit(limit: RateLimit) -> dict[str, Any]:
    """Return the ``userRateLimit`` response."""
    return {"cumVlm": text(limit.cum_vlm), "nRequestsUsed": limit.n_requests_used,
            "nRequestsCap": limit.n_requests_cap, "nRequestsSurplus": limit.n_requests_surplus}


def extra_agents(agents: list[Agent]) -> list[dict[str, Any]]:
    """Return the ``extraAgents`` response."""
    return [{"name": agent.name, "address": agent.address, "validUntil": agent.valid_until_ms} for agent in agents]
