"""Which order type a leg goes out as, from what crossing the book costs against resting on it.

A taker leg pays the taker fee plus the half-spread and depth impact of its
size (`operators.trading_costs.LegCost`); a resting leg pays the maker fee
and earns the half-spread, but may not fill. The choice, per leg:

* ``ioc`` when the leg is urgent (closing, a stop, completing or unwinding
  leg risk: being filled matters more than the price), when the book is
  unknown, or when resting saves less than ``maker_edge_bps``;
* ``post_only`` (Alo) when crossing would cost more than the slippage band
  allows (an IOC priced inside the band could not fill), when the exchange
  accepts only post-only orders for now, or when resting saves enough and
  the spread is tight (a price at the mid would sit at the touch: Alo
  guarantees it never takes);
* ``limit`` (Gtc at the mark) when resting saves enough and the spread is
  wide (at least twice the edge): a price at the mid is inside the book,
  first in line, and saves half the spread either way it fills.

Urgent legs stay ``ioc`` even while takers are paused: the router then refuses
them with their reason, which is what an operator must see.
"""

from __future__ import annotations

from operators.trading_costs import LegCost

__all__ = ["choose_order_type"]


def choose_order_type(cost: LegCost | None, *, maker_fee: float, taker_fee: float, urgent: bool = False,
                      slippage_bps: float = 30.0, maker_edge_bps: float = 5.0,
                      takers_paused: bool = False) -> tuple[str, str]:
    """Return ``(order_type, why)`` for one leg; fees and costs are fractions of notional.

    Examples
    --------
    >>> cheap, tight, wide = LegCost(0.00005, 0.0), LegCost(0.0002, 0.0), LegCost(0.001, 0.0)
    >>> choose_order_type(tight, maker_fee=0.00015, taker_fee=0.00045, urgent=True)[0]
    'ioc'
    >>> choose_order_type(cheap, maker_fee=0.00015, taker_fee=0.00045)
    ('ioc', 'resting saves 4.0 bps, under the 5.0 bps edge')
    >>> choose_order_type(tight, maker_fee=0.00015, taker_fee=0.00045)[0]
    'post_only'
    >>> choose_order_type(wide, maker_fee=0.00015, taker_fee=0.00045)[0]
    'limit'
    >>> choose_order_type(LegCost(0.004, 0.0), maker_fee=0.00015, taker_fee=0.00045, slippage_bps=30.0)[1]
    'crossing costs 40.0 bps, beyond the 30.0 bps band'
    >>> choose_order_type(None, maker_fee=0.00015, taker_fee=0.00045)[0]
    'ioc'
    """
    if urgent:
        return "ioc", "urgent leg"
    if takers_paused:
        return "post_only", "the exchange accepts only post-only orders"
    if cost is None:
        return "ioc", "no book seen: cost unknown"
    crossing_bps = (cost.half_spread + cost.impact) * 1e4
    if crossing_bps > slippage_bps:
        return "post_only", f"crossing costs {crossing_bps:.1f} bps, beyond the {slippage_bps:.1f} bps band"
    saving_bps = ((taker_fee + cost.half_spread + cost.impact) - (maker_fee - cost.half_spread)) * 1e4
    if saving_bps < maker_edge_bps:
        return "ioc", f"resting saves {saving_bps:.1f} bps, under the {maker_edge_bps:.1f} bps edge"
    if cost.half_spread * 1e4 >= 2 * maker_edge_bps:
        return "limit", f"wide spread: resting at the mark saves {saving_bps:.1f} bps"
    return "post_only", f"resting saves {saving_bps:.1f} bps"
