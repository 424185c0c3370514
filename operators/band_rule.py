"""The entry/exit rule: symmetric bands on a standardised spread score.

The score is the spread's z-score, or the Kalman forecast error over its
standard deviation ``e / sqrt(Q)`` (bands at ``±k·sqrt(Q)``). Flat, the rule
proposes an entry on the row where the score *crosses* the entry band --
long the spread when it is cheap (score at or below ``-entry``), short when
rich -- so one excursion proposes one entry even if a gate vetoes it. In a
position it exits when the score comes back inside ``exit`` (mean reversion
done) and stops when the score runs to ``stop`` against it.
"""

from __future__ import annotations

__all__ = ["band_decision"]


def band_decision(
    position: int,
    previous: float | None,
    score: float,
    entry: float,
    exit_: float,
    stop: float,
) -> str | None:
    """Return ``"entry-long"``, ``"entry-short"``, ``"exit"``, ``"stop"`` or None (nothing to do).

    Parameters
    ----------
    position
        Current spread position: 1 long, -1 short, 0 flat.
    previous
        The score on the previous row (None on the first one).
    score
        The score now.
    entry, exit_, stop
        Band half-widths, ``stop > entry > exit_ >= 0``.

    Examples
    --------
    >>> band_decision(0, -1.5, -2.1, 2.0, 0.5, 4.0), band_decision(0, -2.3, -2.1, 2.0, 0.5, 4.0)
    ('entry-long', None)
    >>> band_decision(1, -0.9, -0.4, 2.0, 0.5, 4.0), band_decision(-1, 3.0, 4.2, 2.0, 0.5, 4.0)
    ('exit', 'stop')
    """
    if position == 0:
        if score >= entry and (previous is None or previous < entry):
            return "entry-short"
        if score <= -entry and (previous is None or previous > -entry):
            return "entry-long"
        return None
    if position * score <= -stop:
        return "stop"
    if position * score >= -exit_:
        return "exit"
    return None
