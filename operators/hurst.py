"""Hurst exponent by the lagged-difference (variogram) estimator, batch and rolling.

Estimator: the standard deviation of the ``tau``-step changes of a series
scales as ``tau**H``; ``H`` is the least-squares slope of
``log std(x[t+tau] - x[t])`` on ``log tau`` for ``tau = 2..max_lag``
(the second-order generalised Hurst exponent). ``H`` near 0.5 is a random
walk, below 0.5 mean reversion -- what a tradable spread should show --
and above 0.5 trending. It is computed on levels (a spread), not returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from operators.guard import ValueWindow

__all__ = ["Hurst", "HurstValue", "hurst_exponent"]


def hurst_exponent(values: Sequence[float] | np.ndarray, max_lag: int = 20) -> float | None:
    """Return the variogram Hurst exponent of ``values``, or None if too short or flat.

    Examples
    --------
    >>> rng = np.random.default_rng(7)
    >>> round(hurst_exponent(np.cumsum(rng.standard_normal(5_000)), max_lag=50), 1)
    0.5
    >>> hurst_exponent([1.0, 1.0, 1.0, 1.0, 1.0], max_lag=3) is None
    True
    """
    series = np.asarray(values, dtype=float)
    max_lag = min(max_lag, series.size // 2)
    if max_lag < 3:
        return None
    lags = np.arange(2, max_lag + 1)
    spreads = np.array([np.std(series[lag:] - series[:-lag]) for lag in lags])
    if np.any(spreads <= 0.0):
        return None
    slope = np.polyfit(np.log(lags), np.log(spreads), 1)[0]
    return float(slope)


class HurstValue(NamedTuple):
    """Hurst exponent of the last window as of ``ts``."""

    ts: int
    hurst: float


class Hurst(ValueWindow):
    """Rolling variogram Hurst exponent of the last ``window`` values of ``(ts, value)`` input.

    Each update re-estimates on the window (O(window * max_lag)); it suits
    bars, not ticks.

    Parameters
    ----------
    window
        Number of values in the estimate.
    max_lag
        Largest lag of the log-log fit.

    Examples
    --------
    >>> hurst = Hurst(window=300, max_lag=20)
    >>> rng, level = np.random.default_rng(3), 0.0
    >>> for ts in range(300):  # AR(1) with coefficient 0.5: strongly mean-reverting
    ...     level = 0.5 * level + rng.standard_normal()
    ...     out = hurst.update((ts, level))
    >>> out[0].hurst < 0.2
    True
    """

    minimum_window = 6

    def __init__(self, window: int = 200, max_lag: int = 20) -> None:
        super().__init__(window)
        self.max_lag = max_lag

    def update(self, event: tuple[int, float]) -> list[HurstValue]:
        """Fold ``(ts, value)`` in; return the exponent once the window is full."""
        ts, value = event
        if not self._window_full(ts, value):
            return []
        result = hurst_exponent(np.fromiter(self._values, float, self.window), self.max_lag)
        if result is None:
            return self._reject("flat", "the window did not vary at some lag")
        return [HurstValue(ts, result)]
