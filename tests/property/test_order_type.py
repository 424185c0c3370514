"""The order type chosen from the cost model: urgency first, then the slippage band, then what resting saves."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from operators.order_type import choose_order_type
from operators.trading_costs import LegCost

fees = st.floats(min_value=-0.0002, max_value=0.001, allow_nan=False)
fractions = st.floats(min_value=0.0, max_value=0.01, allow_nan=False)
costs = st.one_of(st.none(), st.builds(LegCost, fractions, fractions))
bps = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@given(costs, fees, fees, st.booleans(), bps, bps, st.booleans())
def test_urgent_legs_take_and_a_leg_rests_only_when_it_saves_the_edge_inside_the_band(
        cost: LegCost | None, maker: float, taker: float, urgent: bool, band: float, edge: float, paused: bool) -> None:
    kind, why = choose_order_type(cost, maker_fee=maker, taker_fee=taker, urgent=urgent, slippage_bps=band,
                                  maker_edge_bps=edge, takers_paused=paused)
    assert kind in ("ioc", "limit", "post_only") and why
    if urgent:
        assert kind == "ioc"
        return
    if paused:
        assert kind == "post_only"
        return
    if cost is None:
        assert kind == "ioc"
        return
    crossing = (cost.half_spread + cost.impact) * 1e4
    saving = (taker + 2 * cost.half_spread + cost.impact - maker) * 1e4
    if crossing > band:
        assert kind == "post_only"
    elif saving < edge:
        assert kind == "ioc"
    else:
        assert kind in ("limit", "post_only")
        assert (kind == "limit") == (cost.half_spread * 1e4 >= 2 * edge)


@given(st.builds(LegCost, fractions, fractions), fees, fees, st.floats(min_value=0.0, max_value=0.001))
def test_a_dearer_taker_fee_never_turns_a_resting_leg_into_a_taker(cost: LegCost, maker: float, taker: float,
                                                                   more: float) -> None:
    before, _ = choose_order_type(cost, maker_fee=maker, taker_fee=taker)
    after, _ = choose_order_type(cost, maker_fee=maker, taker_fee=taker + more)
    assert not (before != "ioc" and after == "ioc")
