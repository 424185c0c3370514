"""Half-life, Hurst exponent, mean crossings and as-of alignment."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.align import Aligned, AsOfAligner
from operators.check import check_operator
from operators.crossings import MeanCrossings, mean_crossings
from operators.half_life import HalfLife, half_life
from operators.hurst import Hurst, hurst_exponent


def ornstein_uhlenbeck(n: int, theta: float, seed: int = 11, sigma: float = 1.0) -> np.ndarray:
    """Exact discretisation of dX = -theta X dt + sigma dW sampled at dt = 1."""
    rng = np.random.default_rng(seed)
    phi = math.exp(-theta)
    noise = sigma * math.sqrt((1 - phi**2) / (2 * theta)) * rng.standard_normal(n)
    values = np.empty(n)
    values[0] = 0.0
    for t in range(1, n):
        values[t] = phi * values[t - 1] + noise[t]
    return values + 50.0


@pytest.mark.parametrize("theta", [0.05, 0.2])
def test_half_life_recovers_the_ou_parameter(theta: float) -> None:
    values = ornstein_uhlenbeck(20_000, theta)
    expected = math.log(2) / theta
    assert half_life(values) == pytest.approx(expected, rel=0.1)
    operator = HalfLife(window=5_000)
    out = [v for t, value in enumerate(values) for v in operator.update((t, float(value)))]
    assert out[-1].half_life == pytest.approx(half_life(values[-5_001:]), rel=1e-9)


def test_random_walk_has_no_half_life_and_a_trend_is_refused() -> None:
    operator = HalfLife(window=10)
    outs = [operator.update((t, float(t * t))) for t in range(20)]
    assert outs[-1] == [] and operator.rejects["no-reversion"] >= 1


def test_hurst_separates_random_walk_and_mean_reversion() -> None:
    rng = np.random.default_rng(12)
    walk = np.cumsum(rng.standard_normal(20_000))
    assert hurst_exponent(walk, max_lag=50) == pytest.approx(0.5, abs=0.05)
    assert hurst_exponent(ornstein_uhlenbeck(20_000, 0.2), max_lag=50) < 0.3
    rolling = Hurst(window=500, max_lag=30)
    out = [v for t, value in enumerate(walk[:600]) for v in rolling.update((t, float(value)))]
    assert len(out) == 101 and out[-1].hurst == hurst_exponent(walk[100:600], max_lag=30)


def test_mean_crossings_counts_sign_changes_around_the_window_mean() -> None:
    assert mean_crossings([0.0, 2.0, 0.0, 2.0]) == 3
    assert mean_crossings([0.0, 1.0, 2.0]) == 1  # the point on the mean is skipped
    counter = MeanCrossings(window=3)
    out = [v for t, value in enumerate([0.0, 2.0, 0.0, 5.0, 6.0]) for v in counter.update((t, value))]
    assert [(v.ts, v.crossings) for v in out] == [(2, 2), (3, 1), (4, 1)]


def test_aligner_emits_once_per_step_when_the_slowest_leg_arrives() -> None:
    align = AsOfAligner(("A", "B", "C"), staleness_ms=1_000)
    rows = []
    for ts in (0, 1_000, 2_000):
        for coin, price in (("A", 1.0 + ts), ("C", 3.0 + ts), ("B", 2.0 + ts)):
            rows.extend(align.update((coin, ts, price)))
    assert rows == [Aligned(ts, (1.0 + ts, 2.0 + ts, 3.0 + ts)) for ts in (0, 1_000, 2_000)]


def test_aligner_reasons_for_stale_unknown_gap_and_out_of_order() -> None:
    align = AsOfAligner(("A", "B"), staleness_ms=1_000, max_gap_ms=2_000)
    align.update(("A", 0, 1.0))
    assert align.update(("B", 0, 2.0)) == [Aligned(0, (1.0, 2.0))]
    assert align.update(("X", 1, 1.0)) == [] and align.last_reason == "unknown-leg: X is not a leg of A/B"
    assert align.update(("A", 2_000, 1.1)) == [] and align.last_reason.startswith("stale: B older than 1000 ms")
    assert align.update(("A", 1_500, 1.1)) == [] and align.last_reason.startswith("out-of-order")
    assert align.update(("B", 2_000, float("nan"))) == [] and align.last_reason == "invalid: B price was nan"
    assert align.update(("B", 3_000, 2.1)) == [] and align.last_reason == "gap: 3000 ms since the previous row at 0"
    assert align.update(("A", 4_000, 1.2)) == [Aligned(4_000, (1.2, 2.1))]
    assert align.update(("B", 4_000, 2.2)) == []  # the row at 4000 is decided; B's price goes into the next one
    align.update(("A", 5_000, 1.3))
    assert align.update(("B", 5_000, 2.3)) == [Aligned(5_000, (1.3, 2.3))]
    assert align.rejects == {"missing": 1, "unknown-leg": 1, "stale": 1, "out-of-order": 1, "invalid": 1, "gap": 1}


def test_a_leg_catching_up_with_the_last_row_gives_no_second_row_of_that_time() -> None:
    # B has no bar at 1000: its 2000 bar makes the row of 2000 with A's 1000 price; A's own 2000 bar then
    # only updates A's price (a second row stamped 2000 was one the Kalman filter refused as out-of-order).
    align = AsOfAligner(("A", "B"), staleness_ms=1_000)
    rows = [row for event in [("A", 0, 1.0), ("B", 0, 2.0), ("A", 1_000, 1.1), ("B", 2_000, 2.2),
                              ("A", 2_000, 1.2), ("B", 3_000, 2.3), ("A", 3_000, 1.3)] for row in align.update(event)]
    assert rows == [Aligned(0, (1.0, 2.0)), Aligned(2_000, (1.1, 2.2)), Aligned(3_000, (1.3, 2.3))]
    assert align.rejects == {"missing": 1}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ABC"), st.integers(0, 6), st.floats(0.5, 2.0)), max_size=60))
def test_aligned_rows_are_strictly_increasing_in_time_and_carry_the_latest_prices(steps) -> None:
    align = AsOfAligner(("A", "B", "C"), staleness_ms=3, max_gap_ms=4)
    times = {"A": 0, "B": 0, "C": 0}
    latest: dict[str, float] = {}
    rows = []
    for coin, step, price in steps:
        times[coin] += step
        before = dict(align.rejects)
        out = align.update((coin, times[coin], price))
        if align.rejects.get("out-of-order", 0) == before.get("out-of-order", 0):
            latest[coin] = price
        assert all(row.prices == tuple(latest[c] for c in "ABC") for row in out)
        rows += out
    assert all(a.ts < b.ts for a, b in zip(rows, rows[1:]))


def test_a_refused_event_leaves_the_aligner_state_alone() -> None:
    align = AsOfAligner(("A", "B"), staleness_ms=10)
    align.update(("A", 0, 1.0))
    before = pickle.loads(align.snapshot())
    align.update(("B", 0, -3.0))
    after = pickle.loads(align.snapshot())
    assert {k: v for k, v in after.items() if k not in ("rejects", "last_reason")} == {
        k: v for k, v in before.items() if k not in ("rejects", "last_reason")
    }


@pytest.mark.parametrize(
    ("operator", "events"),
    [
        (HalfLife(window=8), [(t, float((t * 7) % 5)) for t in range(40)]),
        (Hurst(window=12, max_lag=4), [(t, float((t * 7) % 5)) for t in range(40)]),
        (MeanCrossings(window=6), [(t, float((t * 7) % 5)) for t in range(40)]),
        (AsOfAligner(("A", "B"), 5), [("AB"[t % 2], t // 2, 1.0 + t % 7) for t in range(40)]),
    ],
    ids=["half-life", "hurst", "crossings", "align"],
)
def test_conformance(operator, events) -> None:
    check_operator(operator, events)
