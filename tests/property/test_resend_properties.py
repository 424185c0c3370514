"""Hypothesis: a restart sends a journaled order again only when no copy of it can still become an order.

The model is the exchange's rule for ``expiresAfter`` (refused once its clock has passed it) and a
request delayed for any time, against the host's clock off from the exchange's by up to the skew
`operators.orders.may_resend` allows for.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from operators.orders import CLOCK_SKEW_MS, may_resend

TIMES = st.integers(0, 2**45)
ANSWERS = st.sampled_from(["unknownOid", "filled", "resting", "canceled", "rejected"]) | st.none()


NEAR = st.integers(-3 * CLOCK_SKEW_MS, 3 * CLOCK_SKEW_MS)  # times around the expiry, where the edge cases are


@given(expires=TIMES, asked_after=NEAR, offset=st.integers(-CLOCK_SKEW_MS, CLOCK_SKEW_MS),
       arrival_after=st.none() | NEAR, journaled_expiry=st.booleans())
def test_a_resent_order_never_meets_a_late_copy_the_exchange_accepted(
    expires: int, asked_after: int, offset: int, arrival_after: int | None, journaled_expiry: bool
) -> None:
    """The killed run's request reaches the exchange ``arrival_after`` ms after its expiry (exchange clock; None:
    it never left); the restart asks ``asked_after`` ms after it on the host's clock, ``offset`` from the exchange's."""
    asked = expires + asked_after
    arrival = None if arrival_after is None else expires + arrival_after
    accepted = arrival is not None and arrival <= expires
    answer = "filled" if accepted and arrival <= asked + offset else "unknownOid"
    decision = may_resend(answer, expires if journaled_expiry else None, asked)
    if decision.verdict == "send":
        assert not accepted, "the copy became an order after the restart sent it again"
    if not journaled_expiry or answer != "unknownOid":
        assert decision.verdict == "keep"


@given(answer=ANSWERS, expires=st.none() | TIMES, asked=TIMES)
def test_only_unknown_orders_with_an_expiry_are_waited_for_and_sent_once_it_passed(
    answer: str | None, expires: int | None, asked: int
) -> None:
    decision = may_resend(answer, expires, asked)
    assert decision.verdict in {"send", "keep", "wait"}
    if decision.verdict == "wait":
        assert expires is not None and decision.ask_at_ms > asked
        assert may_resend(answer, expires, decision.ask_at_ms).verdict == "send"
    else:
        assert decision.ask_at_ms == 0
    if answer != "unknownOid" or expires is None:
        assert decision.verdict == "keep"
