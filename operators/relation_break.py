"""Relation break: ADWIN on the spread's standardised forecast errors retires a spread.

While a hedge relation holds, the Kalman filter's standardised forecast error
``e / sqrt(Q)`` keeps a steady scale, so ``(e / sqrt(Q))**2`` has a steady mean
(about 1 when ``Ve`` is calibrated; only its stability matters here). When the
relation breaks (a listing, a depeg, a regime change) the errors grow and stay
large. ADWIN (Bifet and Gavaldà 2007) keeps a window whose two halves have the
same mean at confidence ``1 - delta`` and cuts it when they stop agreeing. A
cut upwards remembers the level before it; once the recent mean reaches
``ratio`` times that level, the spread is retired (a cut downwards forgets it:
the errors calmed). A retired spread produces no entries until a rescan
re-admits it (`readmit`).

Squared errors are clipped at ``clip`` so a single bad print cannot retire a
spread by itself.
"""

from __future__ import annotations

import math

from river import drift

from operators.state import ModelState, Record

__all__ = ["RelationBreak", "RelationBroken"]


class RelationBroken(Record):
    """The spread was retired: the recent mean squared standardised error, and the level before the cut."""

    level: float
    baseline: float


class RelationBreak(ModelState):
    """Watch standardised forecast errors with ADWIN and retire the spread on a lasting rise.

    Parameters
    ----------
    delta
        ADWIN confidence; smaller cuts less often.
    ratio
        How many times its level before the cut the recent mean squared
        standardised error must reach to count as a break.
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

    def __init__(self, delta: float = 0.002, ratio: float = 4.0, clip: float = 25.0, clock: int = 32) -> None:
        if ratio <= 1.0:
            raise ValueError(f"ratio must exceed 1, received {ratio}")
        self.delta = delta
        self.ratio = ratio
        self.clip = clip
        self.clock = clock
        self.detector = drift.ADWIN(delta=delta, clock=clock)
        self.retired = False
        self.breaks = 0
        self.baseline: float | None = None

    @property
    def version(self) -> str:
        """Detector version: how many breaks it has declared."""
        return f"adwin:{self.breaks}"

    def update(self, standardized_error: float) -> list[RelationBroken]:
        """Feed one standardised forecast error ``e / sqrt(Q)``; return a break when it is declared now."""
        if self.retired or not math.isfinite(standardized_error):
            return []
        detector = self.detector
        before = detector.estimation
        detector.update(min(standardized_error * standardized_error, self.clip))
        if detector.drift_detected:
            if detector.estimation < before:
                self.baseline = None
            elif self.baseline is None:
                self.baseline = before
        if self.baseline is not None and detector.estimation >= self.ratio * max(self.baseline, 1e-12):
            self.retired = True
            self.breaks += 1
            return [RelationBroken(float(detector.estimation), float(self.baseline))]
        return []

    def readmit(self) -> None:
        """Accept the spread again (after a rescan) with a fresh detector."""
        self.detector = drift.ADWIN(delta=self.delta, clock=self.clock)
        self.retired = False
        self.baseline = None
