"""Signal mode: rolling-window OLS hedge ratio, z-score of the spread over the same window, fixed units.

Over the last ``window`` rows (the current one included) ``y = a + b·x`` is
fitted by least squares on prices; the spread is ``y - b·x - a`` and its
z-score is the current residual over the residuals' standard deviation in
that window. Bands come from `operators.band_rule.band_decision`. A position
is ``units`` of the first leg against ``-round(b·units)`` of the second, with
``b`` frozen at entry: a rule simple enough that other backtest engines can
run it bar for bar, which is what the comparison benchmark needs.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from operators.band_rule import band_decision
from operators.pair_rows import PairRows, plain_restore, plain_snapshot, signal_of
from pairflow.events import Bar, Signal

__all__ = ["RollingOlsPair", "ols_z", "unit_sizes", "window_fits"]

_sum = np.add.reduce  # what ndarray.mean sums with, without its bookkeeping


def window_fits(ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(b, residual now, z now)`` per row of two 2-D arrays of windows (one window a row).

    The one formula of the rule, shared by this operator (one row per bar) and the vectorised backtest
    (`app.backtest.vectorised`, every row at once): numpy reduces each row the same way in either
    shape, so both paths get the same bits and take the same decisions. z is 0 without variance.

    Examples
    --------
    >>> b, e, z = window_fits(np.array([[1.0, 2.0, 3.0, 5.0]]), np.array([[1.0, 2.0, 3.0, 4.0]]))
    >>> round(float(b[0]), 6), round(float(e[0]), 6), round(float(z[0]), 6)
    (1.3, 0.3, 0.948683)
    """
    n = ys.shape[1]
    dx, dy = xs - xs.mean(axis=1, keepdims=True), ys - ys.mean(axis=1, keepdims=True)
    sxx = np.einsum("ij,ij->i", dx, dx)
    b = np.divide(np.einsum("ij,ij->i", dx, dy), sxx, out=np.zeros_like(sxx), where=sxx > 0)
    residuals = dy - b[:, None] * dx
    sd = np.sqrt(np.einsum("ij,ij->i", residuals, residuals) / (n - 1)) if n > 1 else np.zeros_like(sxx)
    now = residuals[:, -1]
    return b, now, np.divide(now, sd, out=np.zeros_like(sd), where=sd > 1e-12)


def ols_z(ys: list[float], xs: list[float]) -> tuple[float, float, float]:
    """Return ``(b, residual now, z now)`` of the OLS fit ``y = a + b·x`` over one window (`window_fits`).

    The replay calls this once a bar, where `window_fits` on a one-row array spent most of its time in
    numpy's per-call bookkeeping (mean's, and divisions and ``where`` masks of one element), twice the
    CPU of the whole fit in Python. So this runs `window_fits`' reductions (the row's sums, the einsum
    dot products: what fixes the bits) on the one row and the rest on scalars, which round each step
    as numpy's element-wise operations do: the same bits, so the replay and the vectorised backtest
    still take the same decisions.

    Examples
    --------
    >>> b, e, z = ols_z([1.0, 2.0, 3.0, 5.0], [1.0, 2.0, 3.0, 4.0])
    >>> round(b, 6), round(e, 6), round(z, 6)
    (1.3, 0.3, 0.948683)
    """
    n = len(ys)
    y, x = np.array([ys]), np.array([xs])
    dx, dy = x - _sum(x, axis=1)[0] / n, y - _sum(y, axis=1)[0] / n
    sxx = np.einsum("ij,ij->i", dx, dx)[0]
    b = np.einsum("ij,ij->i", dx, dy)[0] / sxx if sxx > 0 else 0.0
    residuals = dy - b * dx
    sd = math.sqrt(np.einsum("ij,ij->i", residuals, residuals)[0] / (n - 1)) if n > 1 else 0.0
    now = float(residuals[0, -1])
    return float(b), now, now / sd if sd > 1e-12 else 0.0


def unit_sizes(position: int, b: float, units: float) -> tuple[float, float]:
    """Return the legs' sizes of a ``position`` (1 long, -1 short): ``units`` of the first against ``-round(b·units)``.

    >>> unit_sizes(-1, 10.06, 1.0)
    (-1.0, 10.0)
    """
    return float(position * units), -position * float(round(b * units))


class RollingOlsPair:
    """Rolling-OLS z-score bands on one pair, sized in fixed units; see the module docstring.

    Examples
    --------
    >>> from operators.pair_rows import Row
    >>> rule = RollingOlsPair(("ETH", "SOL"), interval_ms=10, window=4, entry=0.9, exit_=0.2, stop=9.0, units=10)
    >>> out = [rule.on_row(Row(t, y, x)) for t, (y, x) in enumerate([(1, 1), (2, 2), (3, 3), (5, 4), (4.1, 5)])]
    >>> [(s.target, s.leg_targets, s.reason) for signals in out for s in signals]
    [(-1.0, (-10.0, 13.0), 'entry-short'), (0.0, (0.0, 0.0), 'exit')]
    """

    def __init__(self, legs: tuple[str, ...], *, interval_ms: int, window: int, entry: float, exit_: float,
                 stop: float, units: float) -> None:
        self.rows = PairRows(legs, interval_ms)
        self.legs = legs
        self.window, self.entry, self.exit, self.stop, self.units = window, entry, exit_, stop, units
        self.ys: deque[float] = deque(maxlen=window)
        self.xs: deque[float] = deque(maxlen=window)
        self.position = 0
        self.sizes = (0.0, 0.0)
        self.previous: float | None = None

    def update(self, event: Any) -> list[Signal]:
        """Take a bar of either leg (anything else is ignored); return the signal of a completed row, if any."""
        if type(event) is not Bar:
            return []
        row = self.rows.add(event)
        return [] if row is None else self.on_row(row)

    def on_row(self, row) -> list[Signal]:
        """Decide on one aligned row."""
        self.ys.append(row.y)
        self.xs.append(row.x)
        if len(self.ys) < self.window:
            return []
        b, residual, z = ols_z(list(self.ys), list(self.xs))
        decision = band_decision(self.position, self.previous, z, self.entry, self.exit, self.stop)
        self.previous = z
        if decision is None:
            return []
        if decision.startswith("entry"):
            self.position = 1 if decision == "entry-long" else -1
            self.sizes = unit_sizes(self.position, b, self.units)
        else:
            self.position, self.sizes = 0, (0.0, 0.0)
        return [signal_of(self.legs, row, float(self.position), self.sizes, b, residual, z, decision)]

    def snapshot(self) -> bytes:
        """Return the state as pickled plain values (comparable by content)."""
        return plain_snapshot(self)

    @classmethod
    def restore(cls, state: bytes) -> RollingOlsPair:
        """Rebuild from `snapshot` output."""
        return plain_restore(cls, state)
