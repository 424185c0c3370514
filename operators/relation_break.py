"""Relation break: ADWIN on the spread's standardised forecast errors retires a spread.

While a hedge relation holds, the Kalman filter's forecast error ``e`` has the
variance ``Q`` it predicts, so ``(e / sqrt(Q))**2`` averages about 1. When the
relation breaks (a listing, a depeg, a regime change) the errors grow and stay
large. ADWIN (Bifet and Gavaldà 2007) keeps a window whose two halves have the
same mean at confidence ``1 - delta`` and cuts it when they stop agreeing; a
cut whose newer part averages at least ``min_level`` retires the spread. A
retired spread produces no entries until a rescan re-admits it (`readmit`).

Squared errors are clipped at ``clip`` so a single bad print cannot retire a
spread by itself.
"""

from __future__ import annotations

import math

import msgspec
from river import drift

from operators.state import ModelState

__all__ = ["RelationBreak", "RelationBroken"]


class RelationBroken(msgspec.Struct, frozen=True):
    """The spread was retired: ADWIN's estimate of the mean squared standardised error at the cut."""

    level: float


class RelationBreak(ModelState):
    """Watch standardised forecast errors with ADWIN and retire the spread on a lasting rise.

    Parameters
    ----------
    delta
        ADWIN confidence; smaller cuts less often.
    min_level
        Mean squared standardised error of the recent window that counts as a break.
    clip
        Upper clip of each squared standardised error.
    clock
        ADWIN checks for a cut every ``clock`` updates (cheaper than every one).

    Examples
    --------
    >>> import random
    >>> rng = random.Random(3)
    >>> watch = RelationBreak()
    >>> sum(len(watch.update(rng.gauss(0, 1))) for _ in range(2_000)), watch.retired
    (0, False)
    >>> [type(b).__name__ for _ in range(500) for b in watch.update(rng.gauss(0, 4))]
    ['RelationBroken']
    >>> watch.retired
    True
    >>> watch.readmit(); watch.retired
    False
    """

    def __init__(self, delta: float = 0.002, min_level: float = 3.0, clip: float = 25.0, clock: int = 32) -> None:
        self.delta = delta
        self.min_level = min_level
        self.clip = clip
        self.clock = clock
        self.detector = drift.ADWIN(delta=delta, clock=clock)
        self.retired = False
        self.breaks = 0

    @property
    def version(self) -> str:
        """Detector version: how many breaks it has declared."""
        return f"adwin:{self.breaks}"

    def update(self, standardized_error: float) -> list[RelationBroken]:
        """Feed one standardised forecast error ``e / sqrt(Q)``; return a break when it is declared now."""
        if self.retired or not math.isfinite(standardized_error):
            return []
        self.detector.update(min(standardized_error * standardized_error, self.clip))
        if self.detector.drift_detected and self.detector.estimation >= self.min_level:
            self.retired = True
            self.breaks += 1
            return [RelationBroken(float(self.detector.estimation))]
        return []

    def readmit(self) -> None:
        """Accept the spread again (after a rescan) with a fresh detector."""
        self.detector = drift.ADWIN(delta=self.delta, clock=self.clock)
        self.retired = False
