"""Half-life of mean reversion from an AR(1) fit, batch and rolling.

Model: ``s_t - s_{t-1} = c + b * s_{t-1} + noise``, the discrete form of an
Ornstein-Uhlenbeck process ``ds = theta (mu - s) dt + sigma dW`` sampled every
step, with ``1 + b = exp(-theta)``. The half-life ``-ln 2 / ln(1 + b)`` (in
steps) says how long a spread takes to close half its gap to the mean, which
sets the holding horizon and the z-score window. ``1 + b`` outside (0, 1)
means no mean reversion: no half-life.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from operators.guard import Guarded
from operators.moments import RollingMoments

__all__ = ["HalfLife", "HalfLifeValue", "half_life"]


def _from_slope(slope: float) -> float | None:
    phi = 1.0 + slope
    if not 0.0 < phi < 1.0:
        return None
    return -math.log(2.0) / math.log(phi)


def half_life(values: Sequence[float] | np.ndarray) -> float | None:
    """Return the AR(1) half-life of ``values`` in steps, or None if they do not mean-revert.

    Examples
    --------
    >>> round(half_life([8.0, 4.0, 2.0, 1.0, 0.5, 0.25]), 6)
    1.0
    >>> half_life([1.0, 2.0, 3.0, 4.0]) is None
    True
    """
    series = np.asarray(values, dtype=float)
    if series.size < 3:
        return None
    lagged, change = series[:-1], np.diff(series)
    lagged_centred = lagged - lagged.mean()
    variance = float(lagged_centred @ lagged_centred)
    if variance <= 0.0:
        return None
    return _from_slope(float(lagged_centred @ (change - change.mean())) / variance)


class HalfLifeValue(NamedTuple):
    """Half-life (in events) of the last window as of ``ts``."""

    ts: int
    half_life: float


class HalfLife(Guarded):
    """Rolling AR(1) half-life over the last ``window`` changes of ``(ts, value)`` input.

    The regression runs on `operators.moments.RollingMoments` of the pairs
    ``(s_{t-1}, s_t - s_{t-1})``, so an update is O(1). While the window does
    not mean-revert there is no output and the reason is ``no-reversion``.

    Parameters
    ----------
    window
        Number of consecutive changes in the regression.

    Examples
    --------
    >>> hl = HalfLife(window=5)
    >>> out = [hl.update((ts, v)) for ts, v in enumerate([8.0, 4.0, 2.0, 1.0, 0.5, 0.25])]
    >>> [round(o.half_life, 6) for o in out[-1]]
    [1.0]
    """

    def __init__(self, window: int = 100) -> None:
        self._init_guard()
        self.moments = RollingMoments(window)
        self._previous: float | None = None

    def update(self, event: tuple[int, float]) -> list[HalfLifeValue]:
        """Fold ``(ts, value)`` in; return the half-life once the window is full and reverting."""
        ts, value = event
        if not self._admit(ts, value=value):
            return []
        previous, self._previous = self._previous, value
        if previous is None:
            return []
        m = self.moments
        m.add(previous, value - previous)
        if not m.full:
            return []
        result = None if m.flat_x else _from_slope(m.cov / m.var_x)
        if result is None:
            return self._reject("no-reversion", "the window did not mean-revert")
        return [HalfLifeValue(ts, result)]
