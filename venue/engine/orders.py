"""The engine's internal order record (integer prices and sizes) and its wire views."""

from __future__ import annotations

from .rules import fmt


class Order:
    """Track one order through its life; prices/sizes are scaled integers of its asset."""

    __slots__ = ("oid", "user", "asset", "coin", "is_buy", "px", "sz", "orig_sz", "ts", "tif", "reduce_only",
                 "cloid", "trigger_px", "is_market", "tpsl", "status", "status_ts", "children", "parent",
                 "reserved", "pxd", "szd", "position_tpsl")

    def __init__(self, oid, user, asset, coin, is_buy, px, sz, ts, tif, reduce_only, cloid, pxd, szd):
        self.oid = oid
        self.user = user
        self.asset = asset
        self.coin = coin
        self.is_buy = is_buy
        self.px = px
        self.sz = sz
        self.orig_sz = sz
        self.ts = ts
        self.tif = tif
        self.reduce_only = reduce_only
        self.cloid = cloid
        self.trigger_px = None
        self.is_market = False
        self.tpsl = None
        self.status = "open"
        self.status_ts = ts
        self.children = None
        self.parent = None
        self.reserved = 0
        self.pxd = pxd
        self.szd = szd
        self.position_tpsl = False

    def order_type(self) -> str:
        """Return the history label: Limit, Market, Stop Market/Limit, Take Profit Market/Limit."""
        if self.trigger_px is None:
            return "Market" if self.is_market else "Limit"
        kind = "Take Profit" if self.tpsl == "tp" else "Stop"
        return f"{kind} {'Market' if self.is_market else 'Limit'}"

    def basic_wire(self) -> dict:
        """Return the ``openOrders`` / ``orderUpdates`` order object."""
        wire = {"coin": self.coin, "side": "B" if self.is_buy else "A", "limitPx": fmt(self.px, self.pxd),
                "sz": fmt(self.sz, self.szd), "oid": self.oid, "timestamp": self.ts,
                "origSz": fmt(self.orig_sz, self.szd)}
        if self.cloid is not None:
            wire["cloid"] = self.cloid
        return wire

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

    def update_wire(self) -> dict:
        """Return one ``orderUpdates`` entry for the current status."""
        return {"order": self.basic_wire(), "status": self.status, "statusTimestamp": self.status_ts}
