"""Z-score of a spread against its rolling or exponentially weighted mean and deviation.

The entry/exit rule trades bands on this z. The mean and standard deviation
include the current value (no look-ahead: only data up to ``ts``); the
deviation is the population one (ddof=0).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from operators.moments import MomentsOperator, moments_ready

__all__ = ["ZScore", "ZScoreValue"]


class ZScoreValue(NamedTuple):
    """A spread value with its mean, deviation and z as of ``ts``."""

    ts: int
    value: float
    mean: float
    std: float
    zscore: float


class ZScore(MomentsOperator):
    """Z-score over the last ``window`` values, or EWMA with ``halflife`` (in events).

    Input is ``(ts, value)`` with ``ts`` strictly increasing; the value may be
    negative (a spread). Non-finite values and old timestamps are rejected.
    No output until warm, nor while the value is flat.

    Parameters are those of `MomentsOperator`.

    Examples
    --------
    >>> z = ZScore(window=4)
    >>> [z.update((ts, v)) for ts, v in enumerate([1.0, 2.0, 3.0])]
    [[], [], []]
    >>> (out,) = z.update((3, 6.0))
    >>> out.mean, round(out.std, 4), round(out.zscore, 4)
    (3.0, 1.8708, 1.6036)
    """

    def update(self, event: tuple[int, float]) -> list[ZScoreValue]:
        """Fold ``(ts, value)`` in; return its z-score once warm."""
        ts, value = event
        if not self._admit(ts, value=value):
            return []
        m = self.moments
        m.add(value, value)
        if not moments_ready(m, self.min_count):
            return []
        if m.flat_x:
            return self._reject("flat", "the value did not vary")
        std = math.sqrt(m.var_x)
        return [ZScoreValue(ts, value, m.mean_x, std, (value - m.mean_x) / std)]
