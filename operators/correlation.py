"""Pearson correlation of two streams, rolling or exponentially weighted.

Used as the health signal of a spread: fed the legs' log returns, a falling
correlation warns that the relation the hedge ratio assumes is weakening.
The numeric core is `operators.moments` (centred updates, bounded drift).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from operators.moments import MomentsOperator, moments_ready

__all__ = ["Correlation", "CorrelationValue"]


class CorrelationValue(NamedTuple):
    """Correlation of the two inputs as of ``ts``."""

    ts: int
    correlation: float


class Correlation(MomentsOperator):
    """Pearson correlation over the last ``window`` pairs, or EWMA with ``halflife`` (in events).

    Input is ``(ts, x, y)`` with ``ts`` strictly increasing. A pair with a
    non-finite value or an old ``ts`` is rejected (no output, ``last_reason``
    set, state untouched). No output until the window is full (or
    ``min_count`` EWMA updates), nor while either input is flat.

    Parameters are those of `MomentsOperator`.

    Examples
    --------
    >>> corr = Correlation(window=3)
    >>> corr.update((1, 1.0, 2.0)), corr.update((2, 2.0, 4.1))
    ([], [])
    >>> [round(c.correlation, 6) for c in corr.update((3, 3.0, 5.9))]
    [0.999015]
    >>> corr.update((4, float("nan"), 1.0)), corr.last_reason
    ([], 'invalid: x was nan')
    """

    def update(self, event: tuple[int, float, float]) -> list[CorrelationValue]:
        """Fold ``(ts, x, y)`` in; return the correlation once warm."""
        ts, x, y = event
        if not self._admit(ts, x=x, y=y):
            return []
        m = self.moments
        m.add(x, y)
        if not moments_ready(m, self.min_count):
            return []
        if m.flat_x or m.flat_y:
            return self._reject("flat", "an input did not vary over the window")
        rho = m.cov / math.sqrt(m.var_x * m.var_y)
        return [CorrelationValue(ts, max(-1.0, min(1.0, rho)))]
