"""Price-time priority order book of one asset, integer prices, best level at the end of each key list."""

from __future__ import annotations

from bisect import insort
from collections import deque

from .rules import dec
from .views import BookLevel


class Book:
    """Hold resting limit orders; bids keyed by price, asks by negated price, both lists ascending.

    Parameters
    ----------
    queue_model
        Decides where a new order joins its price level (FIFO by default).
    """

    __slots__ = ("bids", "asks", "bid_keys", "ask_keys", "queue_model")

    def __init__(self, queue_model) -> None:
        self.bids: dict[int, deque] = {}
        self.asks: dict[int, deque] = {}
        self.bid_keys: list[int] = []
        self.ask_keys: list[int] = []
        self.queue_model = queue_model

    def best_bid(self) -> int | None:
        """Return the best bid price or None."""
        return self.bid_keys[-1] if self.bid_keys else None

    def best_ask(self) -> int | None:
        """Return the best ask price or None."""
        return -self.ask_keys[-1] if self.ask_keys else None

    def add(self, order) -> None:
        """Rest an order at its price."""
        if order.is_buy:
            level = self.bids.get(order.px)
            if level is None:
                level = self.bids[order.px] = deque()
                insort(self.bid_keys, order.px)
        else:
            level = self.asks.get(order.px)
            if level is None:
                level = self.asks[order.px] = deque()
                insort(self.ask_keys, -order.px)
        self.queue_model.enqueue(level, order)

    def remove(self, order) -> None:
        """Take a resting order off the book."""
        side, keys, key = (self.bids, self.bid_keys, order.px) if order.is_buy else (self.asks, self.ask_keys, -order.px)
        level = side[order.px]
        level.remove(order)
        if not level:
            del side[order.px]
            keys.remove(key)

    def levels(self, is_bid: bool, n_levels: int = 20, n_sig_figs: int | None = None, pxd: int = 0,
               szd: int = 0) -> list[BookLevel]:
        """Return the levels best first, optionally aggregated to ``n_sig_figs`` significant figures."""
        side = self.bids if is_bid else self.asks
        keys = reversed(self.bid_keys) if is_bid else (-k for k in reversed(self.ask_keys))
        out: list[BookLevel] = []
        if n_sig_figs is None:
            for px in keys:
                if len(out) >= n_levels:
                    break
                level = side[px]
                out.append(BookLevel(dec(px, pxd), dec(sum(o.sz for o in level), szd), len(level)))
            return out
        buckets: dict[int, list[int]] = {}
        order_of: list[int] = []
        for px in keys:
            bucket = _bucket(px, pxd, n_sig_figs, up=not is_bid)
            if bucket not in buckets:
                if len(order_of) >= n_levels:
                    break
                buckets[bucket] = [0, 0]
                order_of.append(bucket)
            level = side[px]
            buckets[bucket][0] += sum(o.sz for o in level)
            buckets[bucket][1] += len(level)
        return [BookLevel(dec(b, pxd), dec(buckets[b][0], szd), buckets[b][1]) for b in order_of]

    def impact_price(self, is_bid: bool, notional_micro: int) -> int | None:
        """Return the average fill price for selling (bid side) or buying (ask side) a notional, or None."""
        side = self.bids if is_bid else self.asks
        keys = reversed(self.bid_keys) if is_bid else (-k for k in reversed(self.ask_keys))
        filled_ntl = 0
        filled_sz = 0
        for px in keys:
            size = sum(o.sz for o in side[px])
            need = notional_micro - filled_ntl
            if px * size >= need:
                part = -(-need // px)
                filled_ntl += px * part
                filled_sz += part
                return filled_ntl // filled_sz
            filled_ntl += px * size
            filled_sz += size
        return None


def _bucket(px: int, pxd: int, n_sig_figs: int, up: bool) -> int:
    digits = len(str(px))
    integer_digits = digits - pxd
    step_exp = max(integer_digits - n_sig_figs, -pxd)
    step = 10 ** (step_exp + pxd)
    if step <= 1:
        return px
    return -(-px // step) * step if up else px // step * step

