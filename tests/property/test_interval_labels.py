"""Interval labels: every well-formed label has one length, anything else is refused with a ValueError."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pairflow.hyperliquid.schemas import CANDLE_INTERVALS, INTERVAL_UNIT_MS, candle_interval_ms, interval_ms


@given(st.integers(1, 10**6), st.sampled_from(sorted(INTERVAL_UNIT_MS)))
def test_a_label_is_its_count_times_its_unit(count: int, unit: str) -> None:
    assert interval_ms(f"{count}{unit}") == count * INTERVAL_UNIT_MS[unit]


@example("²m")  # a digit to str.isdigit, not to int()
@given(st.text(max_size=8))
def test_any_text_is_a_positive_length_or_a_value_error_naming_it(label: str) -> None:
    try:
        length = interval_ms(label)
    except ValueError as error:
        assert repr(label) in str(error)
    else:
        assert length > 0 and label[0].isdigit()


@pytest.mark.parametrize(("interval", "ms"), [("1m", 60_000), ("15m", 900_000), ("1h", 3_600_000), ("4h", 14_400_000),
                                              ("1d", 86_400_000), ("1w", 604_800_000), ("1M", 2_592_000_000)])
def test_candle_intervals_have_their_length(interval: str, ms: int) -> None:
    assert candle_interval_ms(interval) == ms


@pytest.mark.parametrize("interval", ["1s", "250ms", "2m", "0m", "1.5h", "", "m", "1x", "-1m"])
def test_a_label_the_venue_does_not_serve_is_no_candle_interval(interval: str) -> None:
    assert interval not in CANDLE_INTERVALS
    with pytest.raises(ValueError, match="candle interval"):
        candle_interval_ms(interval)
