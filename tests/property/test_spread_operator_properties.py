"""Properties of the spread statistics: invariances and agreement with the batch formulas."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from operators.correlation import Correlation
from operators.half_life import HalfLife, half_life
from operators.zscore import ZScore

series = st.lists(st.floats(min_value=-100.0, max_value=100.0, allow_nan=False), min_size=12, max_size=60)


def run(operator, events: list[tuple]) -> list:
    return [out for event in events for out in operator.update(event)]


# Zeros, then a move of 1e-12, then a jump: the flatness test once judged the window against the values'
# magnitude, so shifted by 1 the move read as rounding noise and the z-score at ts 10 went missing.
@example(values=[0.0] * 10 + [1e-12, 1.0], scale=1.0, shift=1.0, halflife=None)
@example(values=[0.0] * 10 + [1e-12, 1.0], scale=1.0, shift=1.0, halflife=4.0)
@settings(max_examples=80, deadline=None)
@given(values=series, scale=st.floats(min_value=0.01, max_value=100.0), shift=st.floats(min_value=-1e3, max_value=1e3),
       halflife=st.sampled_from([None, 4.0]))
def test_zscore_ignores_positive_rescaling_and_shifts(values, scale, shift, halflife) -> None:
    assume(np.ptp(values) > 1e-3)
    # Moves the transformed floats cannot carry (1 + 1e-20 == 1) are out of any operator's reach.
    level = abs(shift) + scale * max(map(abs, values))
    distinct = sorted(set(values))
    assume(all(scale * (high - low) > 1e-13 * level for low, high in zip(distinct, distinct[1:])))
    kwargs = {"window": 8} if halflife is None else {"halflife": halflife, "min_count": 3}
    plain = run(ZScore(**kwargs), [(t, v) for t, v in enumerate(values)])
    moved = run(ZScore(**kwargs), [(t, scale * v + shift) for t, v in enumerate(values)])
    assert [z.ts for z in plain] == [z.ts for z in moved]
    for a, b in zip(plain, moved):
        if a.std > 1e-6 * np.ptp(values):
            assert abs(a.zscore - b.zscore) <= 1e-6 * (1 + abs(a.zscore))


@settings(max_examples=80, deadline=None)
@given(xs=series, ys=series)
def test_rolling_correlation_equals_numpy_on_every_window(xs, ys) -> None:
    count = min(len(xs), len(ys))
    window = 6
    out = run(Correlation(window=window), [(t, xs[t], ys[t]) for t in range(count)])
    for value in out:
        x = np.array(xs[value.ts - window + 1 : value.ts + 1])
        y = np.array(ys[value.ts - window + 1 : value.ts + 1])
        assume(x.std() > 1e-3 and y.std() > 1e-3)
        assert abs(value.correlation - np.corrcoef(x, y)[0, 1]) < 1e-9


@settings(max_examples=60, deadline=None)
@given(values=series)
def test_rolling_half_life_equals_the_batch_fit_of_its_window(values) -> None:
    window = 10
    outputs = {out.ts: out.half_life for out in run(HalfLife(window=window), [(t, v) for t, v in enumerate(values)])}
    for ts in range(window, len(values)):
        part = np.array(values[ts - window : ts + 1])
        lagged = part[:-1] - part[:-1].mean()
        assume(lagged @ lagged > 1e-6)
        phi = 1 + lagged @ np.diff(part) / (lagged @ lagged)
        assume(min(abs(phi), abs(phi - 1)) > 1e-6)  # at the edges of (0, 1) rounding decides
        expected = half_life(part)
        if expected is None:
            assert ts not in outputs
        else:
            assert abs(outputs[ts] - expected) <= 1e-6 * expected
