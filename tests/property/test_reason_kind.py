"""Rejection reasons become metric labels: a bounded set, whatever numbers the exchange's text carries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sinks.execution import reason_kind

numbers = st.one_of(st.integers(min_value=0, max_value=10**12).map(str),
                    st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda x: f"{x:.5f}"))


@given(st.sampled_from(["Post only order would have immediately matched, bbo was {}@{}. asset={}",
                        "Invalid nonce: nonce too low {} < {}", "Order must have minimum value of ${}. asset={}"]),
       st.lists(numbers, min_size=3, max_size=3))
def test_the_exchanges_texts_map_to_one_label_whatever_their_numbers(template: str, values: list[str]) -> None:
    label = reason_kind(template.format(*values))
    assert label == reason_kind(template.format("1", "2", "3"))
    assert not any(ch.isdigit() for ch in label) and len(label) <= 100


@given(st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True), st.text(max_size=80))
def test_our_checks_are_labelled_by_their_name(check: str, detail: str) -> None:
    assert reason_kind(f"{check}: {detail}") == check
