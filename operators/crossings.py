"""Mean-crossing count, batch and rolling.

How often a spread crosses its mean in a window tells whether reversion
happens often enough to trade: a low half-life with two crossings in six
months is one lucky trade, not a strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from operators.guard import ValueWindow

__all__ = ["MeanCrossingValue", "MeanCrossings", "mean_crossings"]


def mean_crossings(values: Sequence[float] | np.ndarray) -> int:
    """Return how many times ``values`` cross their mean (points exactly on it do not count).

    Examples
    --------
    >>> mean_crossings([1.0, 3.0, 1.0, 2.0, 3.0])
    3
    """
    series = np.asarray(values, dtype=float)
    if series.size < 2:
        return 0
    signs = np.sign(series - series.mean())
    signs = signs[signs != 0]
    return int(np.count_nonzero(signs[1:] != signs[:-1]))


class MeanCrossingValue(NamedTuple):
    """Number of mean crossings in the last window as of ``ts``."""

    ts: int
    crossings: int


class MeanCrossings(ValueWindow):
    """Count crossings of the window mean over the last ``window`` values of ``(ts, value)`` input.

    Parameters
    ----------
    window
        Number of values counted.

    Examples
    --------
    >>> counter = MeanCrossings(window=4)
    >>> [counter.update((ts, v)) for ts, v in enumerate([1.0, 3.0, 1.0])]
    [[], [], []]
    >>> counter.update((3, 3.0))
    [MeanCrossingValue(ts=3, crossings=3)]
    """

    def __init__(self, window: int = 200) -> None:
        super().__init__(window)

    def update(self, event: tuple[int, float]) -> list[MeanCrossingValue]:
        """Fold ``(ts, value)`` in; return the count once the window is full."""
        ts, value = event
        if not self._window_full(ts, value):
            return []
        return [MeanCrossingValue(ts, mean_crossings(self._values))]
