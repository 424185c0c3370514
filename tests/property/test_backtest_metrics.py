"""Drawdown and daily returns (numpy over the curve) against their definitions as plain loops (Hypothesis)."""

from __future__ import annotations

import math

from hypothesis import given, strategies as st

from app.backtest.metrics import DAY_MS, daily_returns, drawdown


def _drawdown(curve: list[tuple[int, float]]) -> tuple[float, int]:
    """The definition: walk the curve, a point at or above the peak is the new peak."""
    peak, peak_ts, worst, longest = -math.inf, curve[0][0] if curve else 0, 0.0, 0
    for ts, equity in curve:
        if equity >= peak:
            longest = max(longest, ts - peak_ts)
            peak, peak_ts = equity, ts
        elif peak > 0:
            worst = max(worst, 1.0 - equity / peak)
    if curve and curve[-1][1] < peak:
        longest = max(longest, curve[-1][0] - peak_ts)
    return round(worst, 12), longest


def _daily_returns(curve: list[tuple[int, float]]) -> list[float]:
    """The definition: the last equity of each UTC day against the previous day's (the first against the start)."""
    closes: dict[int, float] = {}
    for ts, equity in curve:
        closes[ts // DAY_MS] = equity
    values = [curve[0][1]] + [closes[day] for day in sorted(closes)] if curve else []
    return [round(b / a - 1.0, 15) for a, b in zip(values, values[1:]) if a]


curves = st.lists(st.tuples(st.sampled_from([0, 1, 5, DAY_MS // 3, DAY_MS]),
                            st.one_of(st.sampled_from([100.0, 0.0, -3.0]), st.floats(-50, 500))),
                  max_size=40).map(lambda steps: [(sum(step for step, _ in steps[:i + 1]), equity)
                                                  for i, (_, equity) in enumerate(steps)])


@given(curves)
def test_drawdown_and_daily_returns_follow_their_definitions(curve: list[tuple[int, float]]) -> None:
    assert drawdown(curve) == _drawdown(curve)
    assert daily_returns(curve) == _daily_returns(curve)
