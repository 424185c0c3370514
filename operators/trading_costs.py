"""What a round trip of a spread costs: taker fees, half-spreads and depth impact per leg.

Costs are fractions of notional, so they add to log-price spread moves (also
returns per unit of notional). A leg is costed by walking its latest book
snapshot for the leg's notional: the average fill price's distance from the
mid is the half-spread plus the depth impact. Buying and selling are both
walked because a round trip does both, whichever way the spread is traded.
A book too thin for the size prices the remainder at its worst level (an
underestimate, so the size should stay well inside the shown depth).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from pairflow.events import BookSnapshot

__all__ = ["LegCost", "leg_cost", "round_trip_cost"]


class LegCost(NamedTuple):
    """Per-side cost of one leg as fractions of notional: half-spread and the impact beyond it."""

    half_spread: float
    impact: float


def _walk(prices: Sequence[float], sizes: Sequence[float], notional: float) -> float | None:
    """Return the average fill price of ``notional`` USD against the levels, or None if there are none."""
    left, cost, filled, px = notional, 0.0, 0.0, 0.0
    for px, sz in zip(prices, sizes, strict=False):
        take = min(left, px * sz)
        cost += take
        filled += take / px
        left -= take
        if left <= 0.0:
            break
    if filled == 0.0:
        return None
    if left > 0.0:
        filled += left / px
        cost += left
    return cost / filled


def leg_cost(book: BookSnapshot, notional: float) -> LegCost | None:
    """Return the mean of the buy and sell cost of ``notional`` USD on ``book``, or None when a side is empty.

    Examples
    --------
    >>> book = BookSnapshot(id="x", coin="ETH", ts=0, bid_px=(99.0, 98.0), bid_sz=(1.0, 10.0),
    ...                     ask_px=(101.0, 102.0), ask_sz=(1.0, 10.0), mid=100.0, spread_bps=200.0, imbalance=0.0)
    >>> cost = leg_cost(book, 50.0)          # inside the best level: half-spread only
    >>> round(cost.half_spread, 6), round(cost.impact, 6)
    (0.01, 0.0)
    >>> round(leg_cost(book, 303.0).impact, 4)  # two levels deep on each side
    0.0067
    """
    if not book.bid_px or not book.ask_px:
        return None
    mid = (book.bid_px[0] + book.ask_px[0]) / 2.0
    if mid <= 0.0:
        return None
    buy = _walk(book.ask_px, book.ask_sz, notional)
    sell = _walk(book.bid_px, book.bid_sz, notional)
    if buy is None or sell is None:
        return None
    half_spread = (book.ask_px[0] - book.bid_px[0]) / 2.0 / mid
    total = ((buy - mid) + (mid - sell)) / 2.0 / mid
    return LegCost(half_spread, max(total - half_spread, 0.0))


def round_trip_cost(taker_fee: float, legs: Sequence[LegCost], weights: Sequence[float]) -> float:
    """Return the cost of opening and closing every leg, per unit of the first leg's notional.

    ``weights`` are the legs' notionals relative to the first (1 for it,
    ``|hedge ratio|`` for the others).

    Examples
    --------
    >>> round(round_trip_cost(0.0005, [LegCost(0.0001, 0.0), LegCost(0.0002, 0.0001)], [1.0, 2.0]), 6)
    0.0044
    """
    return sum(2.0 * w * (taker_fee + leg.half_spread + leg.impact) for leg, w in zip(legs, weights, strict=True))
