"""No look-ahead: changing the data after time t leaves every output at or before t unchanged.

Each strategy operator is fed a stream, then the same stream with everything
after a cut replaced by other values; outputs stamped at or before the cut
must be identical. Values include NaN, zero and negatives so rejection paths
are exercised too.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from operators.align import AsOfAligner
from operators.correlation import Correlation
from operators.crossings import MeanCrossings
from operators.half_life import HalfLife
from operators.hurst import Hurst
from operators.kalman import KalmanHedge
from operators.zscore import ZScore

values = st.one_of(
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False),
    st.floats(min_value=0.5, max_value=2.0),
    st.just(float("nan")),
    st.just(0.0),
)


def scalar(ts: int, a: float, b: float) -> tuple:
    return (ts, a)


def pair(ts: int, a: float, b: float) -> tuple:
    return (ts, a, b)


def prices(ts: int, a: float, b: float) -> tuple:
    return (ts, (a, b))


def leg(ts: int, a: float, b: float) -> tuple:
    return ("AB"[ts % 2], ts, a)


OPERATORS: dict[str, tuple[Callable[[], object], Callable[[int, float, float], tuple], Callable[[object], int]]] = {
    "correlation": (lambda: Correlation(window=4), pair, lambda out: out.ts),
    "ewma-correlation": (lambda: Correlation(halflife=3.0, min_count=2), pair, lambda out: out.ts),
    "zscore": (lambda: ZScore(window=4), scalar, lambda out: out.ts),
    "ewma-zscore": (lambda: ZScore(halflife=3.0, min_count=2), scalar, lambda out: out.ts),
    "kalman": (lambda: KalmanHedge(), prices, lambda out: out.ts),
    "half-life": (lambda: HalfLife(window=5), scalar, lambda out: out.ts),
    "hurst": (lambda: Hurst(window=8, max_lag=3), scalar, lambda out: out.ts),
    "crossings": (lambda: MeanCrossings(window=4), scalar, lambda out: out.ts),
    "align": (lambda: AsOfAligner(("A", "B"), staleness_ms=2, max_gap_ms=3), leg, lambda out: out.ts),
}


def run(name: str, data: list[tuple[float, float]]) -> list:
    factory, make_event, _ = OPERATORS[name]
    operator = factory()
    out = []
    for ts, (a, b) in enumerate(data):
        out.extend(operator.update(make_event(ts, a, b)))  # type: ignore[attr-defined]
    return out


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(OPERATORS)),
    data=st.lists(st.tuples(values, values), min_size=2, max_size=40),
    future=st.lists(st.tuples(values, values), min_size=1, max_size=20),
    cut_fraction=st.floats(min_value=0.0, max_value=1.0),
)
def test_outputs_up_to_t_ignore_data_after_t(name, data, future, cut_fraction) -> None:
    cut = int(cut_fraction * (len(data) - 1))
    changed = data[: cut + 1] + future
    stamp = OPERATORS[name][2]
    before = [o for o in run(name, data) if stamp(o) <= cut]
    after = [o for o in run(name, changed) if stamp(o) <= cut]
    assert repr(before) == repr(after)
