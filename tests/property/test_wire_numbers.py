"""The server prints the engine's exact Decimals exactly as the venue prints scaled integers."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from venue.engine.rules import dec, fmt, rounded
from venue.server.wire.numbers import text


@given(st.integers(min_value=-10**18, max_value=10**18), st.integers(min_value=0, max_value=12))
def test_text_of_a_scaled_integer_is_the_venue_format(value, decimals):
    assert text(dec(value, decimals)) == fmt(value, decimals)
    assert dec(value, decimals) == Decimal(value).scaleb(-decimals)


@given(st.decimals(min_value=-10**6, max_value=10**6, allow_nan=False, allow_infinity=False, places=14),
       st.integers(min_value=0, max_value=10))
def test_rounded_text_has_no_trailing_zeros_and_one_decimal_at_least(value, places):
    printed = text(rounded(value, places))
    assert Decimal(printed) == rounded(value, places)
    assert "." in printed and (printed.endswith(".0") or not printed.endswith("0")) and printed != "-0.0"
