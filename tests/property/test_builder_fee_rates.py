"""The ``maxFeeRate`` percent strings of ``approveBuilderFee`` and the engine's tenths of a basis point agree."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from venue.engine.accounting import percent_text
from venue.server.auth import ActionRejected
from venue.server.exchange import fee_rate_tenths


@given(st.integers(min_value=0, max_value=10**6))
def test_percent_text_round_trips_through_the_wire_parser(tenths):
    assert fee_rate_tenths(percent_text(tenths)) == tenths


@given(st.text(max_size=30))
def test_any_text_is_a_rate_or_a_one_line_refusal(text):
    try:
        tenths = fee_rate_tenths(text)
    except ActionRejected as refusal:
        assert "\n" not in str(refusal) and repr(text) in str(refusal)
    else:
        assert tenths >= 0 and text.endswith("%")


def test_known_rates():
    assert [fee_rate_tenths(rate) for rate in ("0.001%", "0.01%", "0.1%", "1%", "0%", "0.0500%")] == [1, 10, 100, 1000, 0, 50]
    assert percent_text(1001) == "1.001%" and percent_text(1000) == "1%" and percent_text(0) == "0%"
