"""The engine's internal order record (integer prices and sizes) and its typed views."""

from __future__ import annotations

from .rules import dec
from .types import OrderState, Tif, TpSl
from .views import OrderRecord, OrderView


STATE_OF = {state.value: state for state in OrderState}
"""Status name -> `OrderState`: orders keep the name (cheap on the hot path), views carry the enum."""

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

    def view(self) -> OrderView:
        """Return the order as the user sees it now, with its waiting tp/sl children."""
        return self.view_as_of(self.px, self.sz, self.orig_sz, self.ts)

    def view_as_of(self, px: int, sz: int, orig_sz: int, ts: int) -> OrderView:
        """Return the view with the prices, sizes and time of a snapshot taken when the status changed."""
        pxd, szd = self.pxd, self.szd
        trigger = self.trigger_px is not None
        return OrderView(self.coin, self.is_buy, dec(px, pxd), dec(sz, szd), self.oid, ts, dec(orig_sz, szd),
                         self.cloid, dec(self.trigger_px, pxd) if trigger else None,
                         None if self.tpsl is None else TpSl(self.tpsl), self.is_market,
                         [child.view() for child in self.children or ()], self.position_tpsl, self.reduce_only,
                         self.order_type(), None if trigger or self.tif is None else Tif(self.tif))

    def record(self) -> OrderRecord:
        """Return the view with the current status and its time."""
        return OrderRecord(self.view(), STATE_OF[self.status], self.status_ts)


def update_view(snapshot: tuple) -> OrderRecord:
    """Return the `OrderRecord` of a snapshot ``(order, px, sz, orig_sz, ts, status, status_ts)``.

    The engine records the snapshot when the status changes (the order keeps changing afterwards)
    and builds the view only when a listener reads the event.
    """
    order, px, sz, orig_sz, ts, status, status_ts = snapshot
    return OrderRecord(order.view_as_of(px, sz, orig_sz, ts), STATE_OF[status], status_ts)
