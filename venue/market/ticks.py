"""Hyperliquid perp price and size validity, for building quotes the venue accepts.

A perp price is valid with at most 5 significant figures and at most
``6 - szDecimals`` decimals; an integer price is always valid. A size is a
multiple of ``10 ** -szDecimals``. A new order needs at least $10 notional.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

__all__ = ["MIN_NOTIONAL", "format_price", "format_size", "min_size", "price_decimals", "round_price", "round_size"]

MIN_NOTIONAL = 10.0
_MAX_SIG_FIGS = 5
_PERP_MAX_DECIMALS = 6


def price_decimals(px: float, sz_decimals: int) -> int:
    """Return how many decimals a valid price near `px` may carry."""
    if px <= 0:
        raise ValueError(f"price must be positive, was {px}")
    magnitude = math.floor(math.log10(px))
    return max(0, min(_PERP_MAX_DECIMALS - sz_decimals, _MAX_SIG_FIGS - 1 - magnitude))


def round_price(px: float, sz_decimals: int, *, up: bool) -> Decimal:
    """Round `px` to a valid price, upwards when `up` (asks) else downwards (bids).

    Rounding can move the price across a power of ten, which changes the
    allowed decimals, so the rounding repeats until it is stable. A price
    below one tick rounds down to 0, which no order may carry.
    """
    value = Decimal(repr(px))
    for _ in range(3):
        decimals = price_decimals(float(value), sz_decimals)
        quantum = Decimal(1).scaleb(-decimals)
        rounded = value.quantize(quantum, rounding=ROUND_CEILING if up else ROUND_FLOOR)
        if rounded <= 0 or price_decimals(float(rounded), sz_decimals) >= decimals:
            return rounded
        value = rounded
    return rounded


def round_size(sz: float, sz_decimals: int, *, up: bool = False) -> Decimal:
    """Round `sz` to the lot size ``10 ** -sz_decimals``."""
    quantum = Decimal(1).scaleb(-sz_decimals)
    return Decimal(repr(sz)).quantize(quantum, rounding=ROUND_CEILING if up else ROUND_FLOOR)


def min_size(px: float, sz_decimals: int, notional: float = MIN_NOTIONAL) -> Decimal:
    """Return the smallest lot-size multiple whose notional at `px` reaches `notional`."""
    size = round_size(notional / px, sz_decimals, up=True)
    quantum = Decimal(1).scaleb(-sz_decimals)
    while float(size) * px < notional:
        size += quantum
    return size


def format_price(px: Decimal) -> str:
    """Return the wire string of a rounded price (no exponent, no trailing zeros)."""
    return _plain(px)


def format_size(sz: Decimal) -> str:
    """Return the wire string of a rounded size (no exponent, no trailing zeros)."""
    return _plain(sz)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
