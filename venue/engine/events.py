"""Engine events: collect what an action changed, hand it to the listeners at the action's end.

Nothing is collected while no listener is registered, so a backtest without
listeners pays nothing here. Trades, fills and order updates carry immutable
snapshots whose typed payloads are built on first read (`EngineEvent`), so a
listener that ignores a channel does not slow the matching loop.
"""

from __future__ import annotations

from typing import Callable

from pairflow.hyperliquid.schemas import CANDLE_INTERVALS
from pairflow.logs import get_logger

from . import candles as candle_mod
from .accounts import fill_view, order_hash
from .orders import Order, update_view
from .rules import dec
from .state import EngineState
from .types import Channel, EngineEvent
from .views import Fill, OrderRecord, Trade

_log = get_logger(__name__)


class EventBus:
    """Listeners plus the events pending for the action in progress.

    ``pending`` is None outside an action (or without listeners); collaborators
    test it before building anything.
    """

    def __init__(self, state: EngineState) -> None:
        self.state = state
        self.listeners: list[Callable[[EngineEvent], None]] = []
        self.pending: dict | None = None
        self._spare: dict | None = None
        self._book_events = [EngineEvent(Channel.BOOK, spec.name) for spec in state.specs]

    def add_listener(self, fn: Callable[[EngineEvent], None]) -> None:
        """Register ``fn``."""
        self.listeners.append(fn)

    def remove_listener(self, fn: Callable[[EngineEvent], None]) -> None:
        """Unregister ``fn``; one not registered is ignored."""
        for index, listener in enumerate(self.listeners):
            if listener == fn:
                del self.listeners[index]
                return

    def begin(self) -> None:
        """Start collecting the events of an action (no-op without listeners or when already collecting)."""
        if self.listeners and self.pending is None:
            pending = self._spare
            if pending is None:
                pending = {"trades": {}, "fills": {}, "orderUpdates": {}, "nonUserCancel": {}, "other": [],
                           "book": set(), "candle": set()}
            else:
                self._spare = None
            self.pending = pending

    def push(self, channel: str, key: str, item) -> None:
        """Queue one item of a per-key channel (trades, fills, nonUserCancel)."""
        pending = self.pending
        if pending is not None:
            items = pending[channel].get(key)
            if items is None:
                pending[channel][key] = [item]
            else:
                items.append(item)

    def other(self, event: EngineEvent) -> None:
        """Queue a ready-made event (funding, ledger, liquidation, ctx)."""
        if self.pending is not None:
            self.pending["other"].append(event)

    def status(self, order: Order, status: str) -> None:
        """Set an order's status, stamp it, and queue an order update snapshot."""
        order.status = status
        now = order.status_ts = self.state.now_ms
        pending = self.pending
        if pending is not None:
            snapshot = (order, order.px, order.sz, order.orig_sz, order.ts, status, now)
            updates = pending["orderUpdates"]
            items = updates.get(order.user)
            if items is None:
                updates[order.user] = [snapshot]
            else:
                items.append(snapshot)

    def flush(self) -> None:
        """Hand the events of the finished action to the listeners; payloads are built only when read."""
        pending = self.pending
        self.pending = None
        if pending is None or not self.listeners:
            return
        state = self.state
        events: list[EngineEvent] = []
        append = events.append
        for coin, rows in pending["trades"].items():
            asset = state.asset_of[coin]
            append(EngineEvent(Channel.TRADES, coin, (coin, state.pxd[asset], state.specs[asset].sz_decimals, rows),
                               _trades))
        for user, fills in pending["fills"].items():
            append(EngineEvent(Channel.FILLS, user, fills, _fills))
        for user, snapshots in pending["orderUpdates"].items():
            append(EngineEvent(Channel.ORDER_UPDATES, user, snapshots, _updates))
        cancels = pending["nonUserCancel"]
        if cancels:
            for user, items in cancels.items():
                append(EngineEvent(Channel.NON_USER_CANCEL, user, items))
        if pending["other"]:
            events.extend(pending["other"])
        books = pending["book"]
        if books:
            book_events = self._book_events  # payload-free, so one shared event per coin
            for asset in sorted(books) if len(books) > 1 else books:
                append(book_events[asset])
        if pending["candle"]:
            self._candle_events(pending["candle"], append)
        for container in pending.values():
            if container:
                container.clear()
        self._spare = pending  # reused by the next action: the events hold the item lists, not these
        listeners = tuple(self.listeners)
        for event in events:
            for listener in listeners:
                try:
                    listener(event)
                except Exception:
                    _log.exception("engine listener failed", listener=repr(listener), channel=event.channel,
                                   key=event.key)

    def _candle_events(self, assets: set[int], append: Callable[[EngineEvent], None]) -> None:
        state = self.state
        for asset in sorted(assets):
            series = state.candles[asset]
            if not series.bars:
                continue
            coin = state.specs[asset].name
            pxd, szd = state.pxd[asset], state.specs[asset].sz_decimals
            for interval in CANDLE_INTERVALS:
                opened, bar = series.latest(interval)
                append(EngineEvent(Channel.CANDLE, coin, candle_mod.candle_view(coin, interval, opened, bar, pxd, szd)))


def _trades(raw: tuple) -> list[Trade]:
    coin, pxd, szd, rows = raw
    return [trade_view(coin, pxd, szd, row) for row in rows]


def _fills(fills: list[tuple]) -> list[Fill]:
    return [fill_view(fill) for fill in fills]


def _updates(snapshots: list[tuple]) -> list[OrderRecord]:
    return [update_view(snapshot) for snapshot in snapshots]


def trade_view(coin: str, pxd: int, szd: int, row: tuple) -> Trade:
    """Return the typed trade of a stored trade row."""
    time_ms, is_buy, px, quantity, tid, buyer, seller, taker_oid = row
    return Trade(coin, is_buy, dec(px, pxd), dec(quantity, szd), time_ms, order_hash(taker_oid), tid, buyer, seller)
