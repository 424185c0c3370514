"""Properties of tick/lot rounding, maker ladders and the funding-premium inversion."""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import assume, given
from hypothesis import strategies as st

from venue.market.quoting import (
    QuoteConfig,
    build_ladder,
    center_for_premium,
    funding_rate_for_premium,
    grid_position,
    impact_half_width,
    premium_for_funding_rate,
)
from venue.market.ticks import MIN_NOTIONAL, min_size, round_price

prices = st.floats(1e-4, 2e6, allow_nan=False, allow_infinity=False)
sz_decimals = st.integers(0, 5)


def is_valid_price(px: Decimal, szd: int) -> bool:
    if px <= 0:
        return False
    exponent = -px.normalize().as_tuple().exponent
    decimals = max(0, exponent)
    if decimals > 6 - szd:
        return False
    if px == px.to_integral_value():
        return True
    digits = px.normalize().as_tuple().digits
    return len(digits) <= 5


@given(px=prices, szd=sz_decimals, up=st.booleans())
def test_round_price_is_valid_directed_and_close(px, szd, up):
    rounded = round_price(px, szd, up=up)
    if rounded == 0:
        assert not up and px < 10 ** -(6 - szd)
        return
    assert is_valid_price(rounded, szd)
    if up:
        assert float(rounded) >= px * (1 - 1e-12)
    else:
        assert float(rounded) <= px * (1 + 1e-12)
    if px >= 10 ** -(6 - szd) * 1e5:
        assert abs(float(rounded) / px - 1.0) <= 1.1e-4


@given(px=st.floats(1e-3, 2e5), szd=sz_decimals)
def test_min_size_reaches_ten_dollars_with_the_smallest_lot(px, szd):
    size = min_size(px, szd)
    lot = Decimal(1).scaleb(-szd)
    assert float(size) * px >= MIN_NOTIONAL
    assert (size / lot) == (size / lot).to_integral_value()
    assert float(size - lot) * px < MIN_NOTIONAL


@given(
    center=st.floats(0.05, 150_000),
    szd=sz_decimals,
    levels=st.integers(1, 10),
    half_spread=st.floats(0.5, 30),
    step=st.floats(0.5, 30),
)
def test_ladder_is_valid_uncrossed_and_sized(center, szd, levels, half_spread, step):
    assume(center >= 100 * 10 ** -(6 - szd))  # a listed price spans at least 100 ticks
    config = QuoteConfig(levels=levels, half_spread_bps=half_spread, level_step_bps=step)
    ladder = build_ladder(center, szd, config)
    bids = [quote for quote in ladder if quote.is_buy]
    asks = [quote for quote in ladder if not quote.is_buy]
    assert bids and asks
    assert max(q.px for q in bids) < min(q.px for q in asks)
    assert all(float(q.px) < center for q in bids) and all(float(q.px) > center for q in asks)
    assert [q.px for q in bids] == sorted({q.px for q in bids}, reverse=True)
    assert [q.px for q in asks] == sorted({q.px for q in asks})
    for quote in ladder:
        assert is_valid_price(quote.px, szd)
        assert float(quote.px * quote.sz) >= MIN_NOTIONAL
        assert quote.sz == quote.sz.quantize(Decimal(1).scaleb(-szd))


@given(rate=st.floats(-0.01, 0.01))
def test_premium_for_funding_rate_inverts_the_rate_formula(rate):
    assert math.isclose(funding_rate_for_premium(premium_for_funding_rate(rate)), rate, abs_tol=1e-12)


@given(premium=st.floats(-0.003, 0.003), oracle=st.floats(1.0, 100_000.0))
def test_skewed_centre_realises_the_premium_sign(premium, oracle):
    config = QuoteConfig()
    ladder = build_ladder(oracle, 2, config)
    width = impact_half_width(ladder, oracle, 6000.0)
    center = center_for_premium(oracle, premium, width)
    assert (center > oracle) == (premium > 0)
    assert (center < oracle) == (premium < 0)


@given(center=st.floats(1.0, 100_000.0), szd=st.integers(0, 3), move_bps=st.floats(-1.0, 1.0))
def test_a_small_move_keeps_most_levels_in_place(center, szd, move_bps):
    assume(center >= 1000 * 10 ** -(6 - szd))  # ticks much finer than the 3 bps grid
    config = QuoteConfig()
    before = {(q.is_buy, q.px) for q in build_ladder(center, szd, config)}
    after = {(q.is_buy, q.px) for q in build_ladder(center * (1 + move_bps / 10_000), szd, config)}
    assert len(before - after) <= 2
    if grid_position(center, config) == grid_position(center * (1 + move_bps / 10_000), config):
        assert before == after
