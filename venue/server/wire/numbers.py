"""How the venue prints numbers."""

from __future__ import annotations

from decimal import Decimal


def text(value: Decimal | int) -> str:
    """Return the venue's text of an exact number: ``Decimal("2001.50") -> "2001.5"``, ``3 -> "3.0"``."""
    out = format(value, "f")
    if "." in out:
        out = out.rstrip("0")
        if out.endswith("."):
            out += "0"
    else:
        out += ".0"
    return "0.0" if out == "-0.0" else out


def optional(value: Decimal | None) -> str | None:
    """Return `text` of a number that may be missing."""
    return None if value is None else text(value)
