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


def fmt_decimal(value: Decimal, places: int = 8) -> str:
    """Format a Decimal rounded to ``places`` decimals in the venue's style."""
    quantized = value.quantize(Decimal(1).scaleb(-places))
    text = format(quantized, "f")
    if "." in text:
        text = text.rstrip("0")
        if text.endswith("."):
            text += "0"
    else:
        text += ".0"
    return "0.0" if text in ("-0.0",) else text


def from_number(value: float | str | Decimal, decimals: int) -> int:
    """Convert an external number (oracle float, transfer amount) to a scaled integer, rounding half-even."""
    exact = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    return int(exact.scaleb(decimals).quantize(Decimal(1)))
