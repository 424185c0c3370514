"""What each reliability scenario measured, collected for the summary table printed at the end of the run."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RESULTS", "Outcome", "summary_lines"]


@dataclass(frozen=True)
class Outcome:
    """One fault injected into a running stage and what it cost.

    ``crashes`` counts the stage's own unplanned exits (restarted as a
    supervisor would, from its recovery directory); the fault itself is not one.
    """

    scenario: str
    events: int
    lost: int
    duplicated: int
    recovery_s: float
    crashes: int = 0


RESULTS: list[Outcome] = []

_HEADINGS = ("scenario", "events", "lost", "duplicated in _v", "recovery s", "stage crashes")


def summary_lines(results: list[Outcome]) -> list[str]:
    """Return the results as an aligned plain-text table.

    >>> print("\\n".join(summary_lines([Outcome("kill ingest", 10, 0, 0, 1.234)])))
    scenario     events  lost  duplicated in _v  recovery s  stage crashes
    kill ingest      10     0                 0        1.23              0
    """
    rows = [
        (r.scenario, str(r.events), str(r.lost), str(r.duplicated), f"{r.recovery_s:.2f}", str(r.crashes))
        for r in results
    ]
    widths = [max(len(cell) for cell in column) for column in zip(_HEADINGS, *rows)]
    lines = []
    for row in (_HEADINGS, *rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells))
    return lines
