"""Signal mode: the literature's Kalman pair rule on prices, in units of the spread (Chan, ch. 3 style).

The hedge ratio and intercept follow `operators.kalman.KalmanHedge` on raw
prices (``delta``, ``Ve``; state and covariance start at 0, as published).
With forecast error ``e`` and its variance ``Q``: flat, enter long the spread
when ``e < -k·sqrt(Q)`` and short when ``e > k·sqrt(Q)``; exit a long when
``e > -k'·sqrt(Q)`` and a short when ``e < k'·sqrt(Q)``. A position is
``units`` of the spread with weights ``(1, -b)`` (``b`` at entry). Run with
zero costs, the backtest's `app.backtest.metrics.literature_figures` then
reports APR and Sharpe the way those studies do.
"""

from __future__ import annotations

import math
from typing import Any

from operators.kalman import KalmanHedge
from operators.pair_rows import PairRows, Row, plain_restore, plain_snapshot, signal_of
from pairflow.events import Bar, Signal

__all__ = ["KalmanUnitsPair"]


class KalmanUnitsPair:
    """Literature Kalman bands on one pair; see the module docstring.

    Examples
    --------
    >>> rule = KalmanUnitsPair(("ETH", "SOL"), interval_ms=1, delta=1e-4, ve=1e-3, k=1.0, k_exit=0.0, units=1.0)
    >>> prices = [(2.0 * x + 1.0, x) for x in (1.0, 1.1, 1.2, 1.3, 1.4)] + [(3.2, 1.0), (3.0, 1.0), (2.5, 1.0)]
    >>> [(t, s.reason, s.leg_targets[0]) for t, (y, x) in enumerate(prices) for s in rule.on_row(Row(t, y, x))]
    [(2, 'entry-short', -1.0), (7, 'exit', 0.0)]
    """

    def __init__(self, legs: tuple[str, ...], *, interval_ms: int, delta: float, ve: float, k: float,
                 k_exit: float, units: float, warmup: int = 2) -> None:
        self.rows = PairRows(legs, interval_ms)
        self.legs = legs
        self.filter = KalmanHedge(legs=2, delta=delta, observation_variance=ve, initial_variance=0.0)
        self.k, self.k_exit, self.units, self.warmup = k, k_exit, units, warmup
        self.seen = 0
        self.position = 0

    def update(self, event: Any) -> list[Signal]:
        """Take a bar of either leg (anything else is ignored); return the signal of a completed row, if any."""
        if type(event) is not Bar:
            return []
        row = self.rows.add(event)
        return [] if row is None else self.on_row(row)

    def on_row(self, row: Row) -> list[Signal]:
        """Decide on one aligned row (the first ``warmup`` rows only train the filter)."""
        (estimate,) = self.filter.update((row.ts, (row.y, row.x)))
        self.seen += 1
        if self.seen <= self.warmup:
            return []
        e, band = estimate.error, math.sqrt(estimate.error_variance)
        beta = estimate.hedge_ratios[0]
        decision = None
        if self.position == 0 and e < -self.k * band:
            decision, self.position = "entry-long", 1
        elif self.position == 0 and e > self.k * band:
            decision, self.position = "entry-short", -1
        elif (self.position > 0 and e > -self.k_exit * band) or (self.position < 0 and e < self.k_exit * band):
            decision, self.position = "exit", 0
        if decision is None:
            return []
        sizes = (self.position * self.units, -self.position * self.units * beta)
        return [signal_of(self.legs, row, float(self.position), sizes, beta, e, e / band if band else 0.0, decision)]

    def snapshot(self) -> bytes:
        """Return the state as pickled plain values (comparable by content)."""
        return plain_snapshot(self)

    @classmethod
    def restore(cls, state: bytes) -> KalmanUnitsPair:
        """Rebuild from `snapshot` output."""
        return plain_restore(cls, state)
