"""Hyperliquid's price and size rules, so every order we send is one the exchange accepts.

A perp price has at most 5 significant figures (an integer price is always
allowed) and at most ``6 - szDecimals`` decimals; a size is a multiple of
``10**-szDecimals``. ``szDecimals`` is looked up by coin *name*: asset indices
differ between mainnet, testnet and the venue, names do not. Rounding goes
through `decimal` on the float's shortest repr, so ``0.1 + 0.2`` rounds like
the ``0.3`` a human typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from pairflow.errors import PairflowError

__all__ = ["MIN_NOTIONAL", "AssetRules", "UnknownCoinError", "round_price", "round_size"]

MIN_NOTIONAL = 10.0
"""The exchange's minimum order value in USDC, checked per leg after rounding."""

_MAX_SIG_FIGS = 5
_MODES = {"nearest": ROUND_HALF_EVEN, "up": ROUND_CEILING, "down": ROUND_FLOOR}


class UnknownCoinError(PairflowError):
    """Raise when a coin is not in the exchange's meta (an order for it cannot be rounded)."""


def round_price(px: float, sz_decimals: int, mode: str = "nearest") -> float:
    """Return ``px`` on the exchange's price grid for an asset with ``sz_decimals``.

    ``mode`` is ``"nearest"``, ``"up"`` (a buy that must cross) or ``"down"``.

    Examples
    --------
    >>> round_price(27123.456, 5), round_price(1.234567, 0), round_price(0.000123456, 0, "up")
    (27123.0, 1.2346, 0.000124)
    >>> round_price(123456.7, 2)
    123457.0
    """
    value = Decimal(repr(px))
    if value <= 0:
        raise ValueError(f"price must be positive, received {px!r}")
    rounding = _MODES[mode]
    if value >= 10**_MAX_SIG_FIGS:
        return float(value.quantize(Decimal(1), rounding=rounding))
    step = max(Decimal(1).scaleb(value.adjusted() - _MAX_SIG_FIGS + 1), Decimal(1).scaleb(sz_decimals - 6))
    rounded = (value / step).quantize(Decimal(1), rounding=rounding) * step
    if rounded == 0:
        rounded = step
    return float(rounded)


def round_size(sz: float, sz_decimals: int) -> float:
    """Return ``|sz|`` truncated to the asset's lot (toward zero, so risk never grows by rounding).

    Examples
    --------
    >>> round_size(0.123456, 3), round_size(-7.99, 0), round_size(0.0004, 3)
    (0.123, 7.0, 0.0)
    """
    return float(abs(Decimal(repr(sz))).quantize(Decimal(1).scaleb(-sz_decimals), rounding=ROUND_DOWN))


class AssetRules:
    """``szDecimals`` per perp, by coin name, from an exchange ``meta`` response.

    Examples
    --------
    >>> rules = AssetRules.from_meta({"universe": [{"name": "BTC", "szDecimals": 5}, {"name": "DOGE", "szDecimals": 0}]})
    >>> rules.price("BTC", 27123.456), rules.size("DOGE", 123.9), rules.notional_ok("DOGE", 99.0, 0.1)
    (27123.0, 123.0, False)
    """

    def __init__(self, sz_decimals: Mapping[str, int] | None = None) -> None:
        self.sz_decimals: dict[str, int] = dict(sz_decimals or {})

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> AssetRules:
        """Build from ``{"universe": [{"name": ..., "szDecimals": ...}, ...]}`` (delisted assets included)."""
        return cls({asset["name"]: int(asset["szDecimals"]) for asset in meta["universe"]})

    def decimals(self, coin: str) -> int:
        """Return the coin's ``szDecimals``; raise `UnknownCoinError` naming the coin when it is not listed."""
        try:
            return self.sz_decimals[coin]
        except KeyError:
            raise UnknownCoinError(f"coin {coin!r} is not in the exchange meta") from None

    def price(self, coin: str, px: float, mode: str = "nearest") -> float:
        """Return ``px`` rounded to the coin's price grid."""
        return round_price(px, self.decimals(coin), mode)

    def size(self, coin: str, sz: float) -> float:
        """Return ``|sz|`` truncated to the coin's lot."""
        return round_size(sz, self.decimals(coin))

    def notional_ok(self, coin: str, sz: float, px: float) -> bool:
        """Tell whether ``sz`` at ``px``, both rounded, is worth at least the $10 minimum."""
        return self.size(coin, sz) * self.price(coin, px) >= MIN_NOTIONAL
