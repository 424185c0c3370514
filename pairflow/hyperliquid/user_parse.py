"""Parse an account's own data -- fills, open orders, positions, funding payments -- from wire to events.

The same functions read the ``/info`` answers (``userFillsByTime``,
``frontendOpenOrders``, ``clearinghouseState``, ``userFunding``) and the
WebSocket user channels, so an event has the same id whichever path
delivered it and the idempotent ledgers count it once. Orders read here are
marked ``reason="reconciliation"``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pairflow.errors import ParseError
from pairflow.events import Fill, FundingPayment, Order, Position
from pairflow.hyperliquid.parse import decimal_field as num
from pairflow.hyperliquid.user_schemas import ClearinghouseWire, FillWire, OpenOrderWire, UserFundingWire

__all__ = ["fill_id", "fills_from_wire", "funding_from_wire", "open_orders_from_wire", "positions_from_wire"]


def _decode(payload: Any, wire: Any, where: str) -> Any:
    try:
        return msgspec.convert(payload, wire)
    except msgspec.ValidationError as error:
        raise ParseError(where, payload if len(repr(payload)) < 200 else "<payload>", str(error)) from None


def fill_id(wire: FillWire) -> str:
    """Return a fill's stable id: its trade id, else hash, order id and start position (older captures)."""
    return str(wire.tid) if wire.tid is not None else f"{wire.hash}:{wire.oid}:{wire.startPosition}:{wire.sz}"


def fills_from_wire(payload: Any, recv_ts: int) -> list[Fill]:
    """Turn a ``userFillsByTime`` / ``userFills`` response (or a WS ``fills`` list) into `Fill` events.

    Examples
    --------
    >>> row = {"coin": "ETH", "px": "2215.4", "sz": "0.4152", "side": "B", "time": 5, "oid": 9,
    ...        "crossed": True, "fee": "0.38", "tid": 77, "startPosition": "0.0", "closedPnl": "0.0"}
    >>> [(f.id, f.coin, f.sz, f.side, f.fee) for f in fills_from_wire([row], 6)]
    [('77', 'ETH', 0.4152, 'B', 0.38)]
    """
    wires = _decode(payload, list[FillWire], "fills")
    return [Fill(ts=w.time, recv_ts=recv_ts, id=fill_id(w), coin=w.coin, oid=w.oid, cloid=w.cloid or "",
                 px=num(w.px, "fills.px"), sz=num(w.sz, "fills.sz"), side="B" if w.side == "B" else "A",
                 fee=num(w.fee, "fills.fee"), closed_pnl=num(w.closedPnl, "fills.closedPnl"), crossed=w.crossed,
                 start_position=num(w.startPosition, "fills.startPosition"))
            for w in wires]


def open_orders_from_wire(payload: Any, recv_ts: int) -> list[Order]:
    """Turn a ``frontendOpenOrders`` response into `Order` events (``open``, or ``partial`` when part-filled).

    Trigger orders (stop/take-profit) are ours to know about but never pairflow's, so they are kept too.
    """
    out = []
    for w in _decode(payload, list[OpenOrderWire], "frontendOpenOrders"):
        original = num(w.origSz or w.sz, "frontendOpenOrders.origSz")
        remaining = num(w.sz, "frontendOpenOrders.sz")
        out.append(Order(ts=w.timestamp, recv_ts=recv_ts, id=w.cloid or str(w.oid), coin=w.coin,
                         cloid=w.cloid or "", oid=w.oid, is_buy=w.side == "B", sz=original,
                         limit_px=num(w.limitPx, "frontendOpenOrders.limitPx"), status="partial" if remaining < original else "open",
                         filled_sz=round(original - remaining, 10), reason="reconciliation"))
    return out


def positions_from_wire(payload: Any, recv_ts: int) -> tuple[list[Position], float]:
    """Turn a ``clearinghouseState`` response into `Position` events and the account value.

    Examples
    --------
    >>> state = {"assetPositions": [{"position": {"coin": "BTC", "szi": "-0.00785", "entryPx": "26951.0",
    ...          "positionValue": "211.64542", "unrealizedPnl": "-0.08", "marginUsed": "10.58",
    ...          "leverage": {"type": "cross", "value": 20}}}], "marginSummary": {"accountValue": "1000.5"}}
    >>> positions, value = positions_from_wire(state, 1)
    >>> [(p.coin, p.szi, p.mark_px) for p in positions], value
    ([('BTC', -0.00785, 26961.2)], 1000.5)
    """
    state = _decode(payload, ClearinghouseWire, "clearinghouseState")
    out = []
    for asset in state.assetPositions:
        p = asset.position
        szi = num(p.szi, "clearinghouseState.szi")
        mark = round(num(p.positionValue, "clearinghouseState.positionValue") / abs(szi), 6) if szi else 0.0
        out.append(Position(ts=state.time or recv_ts, recv_ts=recv_ts, id=f"{p.coin}@{state.time or recv_ts}",
                            coin=p.coin, szi=szi, entry_px=num(p.entryPx or "0", "clearinghouseState.entryPx"), mark_px=mark,
                            unrealized_pnl=num(p.unrealizedPnl, "clearinghouseState.unrealizedPnl"),
                            margin_used=num(p.marginUsed, "clearinghouseState.marginUsed"),
                            leverage=p.leverage.value if p.leverage else 0.0))
    return out, num(state.marginSummary.accountValue, "clearinghouseState.accountValue")


def funding_from_wire(payload: Any, recv_ts: int) -> list[FundingPayment]:
    """Turn a ``userFunding`` response into `FundingPayment` events (id: time and coin, the same over REST and WS)."""
    return [FundingPayment(ts=w.time, recv_ts=recv_ts, id=f"{w.time}:{w.delta.coin}", coin=w.delta.coin,
                           usdc=num(w.delta.usdc, "userFunding.usdc"), szi=num(w.delta.szi, "userFunding.szi"),
                           rate=num(w.delta.fundingRate, "userFunding.fundingRate"))
            for w in _decode(payload, list[UserFundingWire], "userFunding")]
