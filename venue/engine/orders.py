"""The engine's internal order record (integer prices and sizes) and its wire views."""

from __future__ import annotations

from .rules import fmt


class Order:
    """Track one order through its life; prices/sizes are scaled integers of its asset."""

    __slots__ = ("oid", "user", "asset", "coin", "is_buy", "px", "sz", "orig_sz", "ts", "tif", "reduce_only",
                 "cloid", "trigger_px", "is_market", "tpsl", "status", "status_ts", "children", "parent",
                 "reserved", "pxd", "szd", "position_tpsl", "builder")

    def __init__(self, oid, user, asset, coin, is_buy, px, sz, ts, tif, reduce_only, cloid, pxd, szd):
        self.oid = oid
        self.user = user
        self.asset = asset
        self.coin = coin
        self.is_buy = is_buy
        self.px = px
        self.sz = self.orig_sz = sz
        self.ts = self.status_ts = ts
        self.tif = tif
        self.reduce_only = reduce_only
        self.cloid = cloid
        self.trigger_px = self.tpsl = self.children = self.parent = None
        self.is_market = self.position_tpsl = False
        self.status = "open"
        self.reserved = 0
        self.pxd = pxd
        self.szd = szd
        self.builder = None

    def order_type(self) -> str:
        """Return the history label: Limit, Market, Stop Market/Limit, Take Profit Market/Limit."""
        if self.trigger_px is None:
            return "Market" if self.is_market else "Limit"
        kind = "Take Profit" if self.tpsl == "tp" else "Stop"
        return f"{kind} {'Market' if self.is_market else 'Limit'}"

    def basic_wire(self) -> dict:
        """Return the ``openOrders`` / ``orderUpdates`` order object."""
        return _order_object(self, self.px, self.sz, self.orig_sz, self.ts)

    def frontend_wire(self) -> dict:
        """Return the ``frontendOpenOrders`` / ``orderStatus`` / ``historicalOrders`` order object."""
        trigger = self.trigger_px is not None
        if trigger:
            word = "above" if (self.is_buy == (self.tpsl == "sl")) else "below"
            condition = f"Price {word} {fmt(self.trigger_px, self.pxd)}"
        else:
            condition = "N/A"
        return {
            "coin": self.coin, "side": "B" if self.is_buy else "A", "limitPx": fmt(self.px, self.pxd),
            "sz": fmt(self.sz, self.szd), "oid": self.oid, "timestamp": self.ts, "triggerCondition": condition,
            "isTrigger": trigger, "triggerPx": fmt(self.trigger_px or 0, self.pxd),
            "children": [child.frontend_wire() for child in self.children or ()],
            "isPositionTpsl": self.position_tpsl, "reduceOnly": self.reduce_only, "orderType": self.order_type(),
            "origSz": fmt(self.orig_sz, self.szd), "tif": None if trigger else self.tif, "cloid": self.cloid,
        }

def update_wire(snapshot: tuple) -> dict:
    """Return one ``orderUpdates`` entry from a snapshot ``(order, px, sz, orig_sz, ts, status, status_ts)``.

    The engine records the snapshot when the status changes (the order keeps changing afterwards)
    and formats it only when a listener reads the event.
    """
    order, px, sz, orig_sz, ts, status, status_ts = snapshot
    return {"order": _order_object(order, px, sz, orig_sz, ts), "status": status, "statusTimestamp": status_ts}


def _order_object(order: Order, px: int, sz: int, orig_sz: int, ts: int) -> dict:
    wire = {"coin": order.coin, "side": "B" if order.is_buy else "A", "limitPx": fmt(px, order.pxd),
            "sz": fmt(sz, order.szd), "oid": order.oid, "timestamp": ts, "origSz": fmt(orig_sz, order.szd)}
    if order.cloid is not None:
        wire["cloid"] = order.cloid
    return wire
