"""Tick/lot rules and exact decimal <-> integer conversion.

Inside the engine a perp price is an integer count of ``10**-(6 - szDecimals)`` and a size an integer
count of ``10**-szDecimals``, so ``price * size`` is an exact count of micro-USDC (1e-6). That keeps the
hot path in integers while every wire string stays exact.
"""

from __future__ import annotations

from decimal import Decimal

MONEY_DECIMALS = 6
MONEY_SCALE = 10**MONEY_DECIMALS
MAX_SIG_FIGS = 5
MIN_NOTIONAL = 10 * MONEY_SCALE


def parse_decimal(text: str) -> tuple[int, int] | None:
    """Split a non-negative decimal string into ``(mantissa, decimals)`` without trailing zeros.

    Returns None when the text is not a plain decimal (signs, exponents and spaces are refused).
    """
    if not isinstance(text, str) or not text or len(text) > 40:
        return None
    head, _, tail = text.partition(".")
    tail = tail.rstrip("0")
    digits = head + tail
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    if head == "" and tail == "" or (_ and not head):
        return None
    return int(digits), len(tail)


def scale(parsed: tuple[int, int], decimals: int) -> int | None:
    """Return the integer count of ``10**-decimals`` for a parsed decimal, or None if it has more decimals."""
    mantissa, places = parsed
    if places > decimals:
        return None
    return mantissa * 10 ** (decimals - places)


def price_on_tick(price: int, price_decimals: int) -> bool:
    """Tell whether a scaled price has at most 5 significant figures or is an integer."""
    unit = 10**price_decimals
    if price % unit == 0:
        return True
    while price % 10 == 0:
        price //= 10
    return price < 10**MAX_SIG_FIGS


def round_price(value: Decimal, price_decimals: int, up: bool) -> int:
    """Round a positive price to the closest valid tick in one direction (used for market slippage)."""
    quantum = Decimal(1).scaleb(-price_decimals)
    rounding = "ROUND_CEILING" if up else "ROUND_FLOOR"
    if value >= 10**MAX_SIG_FIGS:
        scaled = value.quantize(Decimal(1), rounding=rounding)
        return int(scaled) * 10**price_decimals
    exponent = value.adjusted() - MAX_SIG_FIGS + 1
    step = max(Decimal(1).scaleb(exponent), quantum)
    rounded = (value / step).quantize(Decimal(1), rounding=rounding) * step
    return int(rounded.scaleb(price_decimals))


def fmt(value: int, decimals: int) -> str:
    """Format a scaled integer as the venue does: no trailing zeros but at least one decimal (``"1100.0"``)."""
    if value < 0:
        return "-" + fmt(-value, decimals)
    whole, fraction = divmod(value, _POWERS[decimals])
    if not fraction:
        return f"{whole}.0"
    return f"{whole}.{str(fraction).rjust(decimals, '0').rstrip('0')}"


_POWERS = [10**exponent for exponent in range(19)]


def from_number(value: float | str | Decimal, decimals: int) -> int:
    """Convert an external number (oracle float, transfer amount) to a scaled integer, rounding half-even."""
    exact = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    return int(exact.scaleb(decimals).quantize(Decimal(1)))


def dec(value: int, decimals: int) -> Decimal:
    """Return a scaled integer as the exact `Decimal` it stands for (``dec(11005, 1) == Decimal("1100.5")``).

    A product with an exact power of ten: exact, and about twice as fast as ``scaleb``.
    """
    return Decimal(value) * _QUANTA[decimals]


def rounded(value: Decimal, places: int) -> Decimal:
    """Round half-even to ``places`` decimals: the precision the exchange reports a derived figure with."""
    return value.quantize(_QUANTA[places])


_QUANTA = [Decimal(1).scaleb(-places) for places in range(19)]
