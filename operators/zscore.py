"""Z-score of a spread against its rolling or exponentially weighted mean and deviation.

The entry/exit rule trades bands on this z. The mean and standard deviation
include the current value (no look-ahead: only data up to ``ts``); the
deviation is the population one (ddof=0).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from operators.guard import Guarded, finite_problem
from operators.moments import make_moments, moments_ready

__all__ = ["ZScore", "ZScoreValue"]


class ZScoreValue(NamedTuple):
    """A spread value with its mean, deviation and z as of ``ts``."""

    ts: int
    value: float
    mean: float
    std: float
    zscore: float


class ZScore(Guarded):
    """Z-score over the last ``window`` values, or EWMA with ``halflife`` (in events).

    Input is ``(ts, value)`` with ``ts`` strictly increasing; the value may be
    negative (a spread). Non-finite values and old timestamps are rejected.
    No output until warm, nor while the value is flat.

    Parameters
    ----------
    window
        Rolling window length in events; give this or ``halflife``.
    halflife
        EWMA half-life in events.
    min_count
        EWMA updates before the first output.

    Examples
    --------
    >>> z = ZScore(window=4)
    >>> [z.update((ts, v)) for ts, v in enumerate([1.0, 2.0, 3.0])]
    [[], [], []]
    >>> (out,) = z.update((3, 6.0))
    >>> out.mean, round(out.std, 4), round(out.zscore, 4)
    (3.0, 1.8708, 1.6036)
    """

    def __init__(self, window: int | None = 100, halflife: float | None = None, min_count: int = 10) -> None:
        self._init_guard()
        self.moments = make_moments(None if halflife is not None else window, halflife)
        self.min_count = min_count

    def update(self, event: tuple[int, float]) -> list[ZScoreValue]:
        """Fold ``(ts, value)`` in; return its z-score once warm."""
        ts, value = event
        problem = finite_problem("value", value)
        if problem:
            return self._reject("invalid", problem)
        problem = self._order_problem(ts)
        if problem:
            return self._reject("out-of-order", problem)
        self.last_ts = ts
        m = self.moments
        m.add(value, value)
        if not moments_ready(m, self.min_count):
            return []
        if m.flat_x:
            return self._reject("flat", "the value did not vary")
        std = math.sqrt(m.var_x)
        return [ZScoreValue(ts, value, m.mean_x, std, (value - m.mean_x) / std)]
