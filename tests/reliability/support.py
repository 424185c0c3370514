"""What each reliability scenario measured, collected for the summary table printed at the end of the run."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pairflow.storage import Store
from tests.broker import TansuBroker
from tests.integration.ingest_support import create_topics, produce

__all__ = ["RESULTS", "Outcome", "broker_outage", "lost_and_duplicated", "produce_in_chunks", "record", "summary_lines"]


@dataclass(frozen=True)
class Outcome:
    """One fault injected into a running stage and what it cost (every stage must ride it out without crashing).

    ``duplicated`` counts rows of the deduplicated ``_v`` view beyond one per id, or, for the collector
    (which publishes to a topic), messages beyond one per event id. ``orders_duplicated`` (orders the
    venue received twice) and ``recovery_s`` are None where the scenario has no orders or no stall.
    """

    scenario: str
    events: int
    lost: int
    duplicated: int
    recovery_s: float | None
    orders_duplicated: int | None = None


RESULTS: list[Outcome] = []

_HEADINGS = ("scenario", "events", "lost", "duplicated", "orders duplicated", "recovery s")


def lost_and_duplicated(store: Store, table: str, expected_ids: set[str]) -> tuple[int, int]:
    """Return (expected ids with no row, rows of the ``_v`` view beyond one per id)."""
    rows, unique = store.query(f"SELECT count(), uniqExact(id) FROM {table}_v")[0]
    stored = {row[0] for row in store.query(f"SELECT DISTINCT id FROM {table}_v")}
    return len(expected_ids - stored), int(rows) - int(unique)


def broker_outage(
    broker: TansuBroker, *batches: list[tuple[str, bytes, bytes]],
    create: Callable[[TansuBroker], object] = create_topics,
) -> float:
    """Stop the broker for a second, start it again and send ``batches``; return when it was back (monotonic).

    tansu keeps its log in memory, so the topics are created again (``create``,
    the market topics by default) and the first batch is usually the forgotten
    log, refilled (same offsets) as a collector backfill would.
    """
    broker.stop()
    time.sleep(1.0)  # an outage the consumers have to notice
    broker.start()
    back = time.monotonic()
    create(broker)
    for batch in batches:
        produce(broker, batch)
    return back


def produce_in_chunks(broker: TansuBroker, messages: list[tuple[str, bytes, bytes]]) -> None:
    """Keep the input flowing at a steady pace (about 5,000 messages a second) while a fault is injected."""
    for start in range(0, len(messages), 1_000):
        produce(broker, messages[start : start + 1_000])
        time.sleep(0.2)


def record(
    scenario: str, events: int, lost: int, duplicated: int, recovery_s: float | None,
    orders_duplicated: int | None = None,
) -> None:
    """Add a scenario's figures to the summary, then require that nothing was lost or duplicated."""
    RESULTS.append(Outcome(scenario, events, lost, duplicated, recovery_s, orders_duplicated))
    assert (lost, duplicated, orders_duplicated or 0) == (0, 0, 0), (
        f"{scenario}: {lost} lost, {duplicated} duplicated, {orders_duplicated} orders duplicated"
    )


def summary_lines(results: list[Outcome]) -> list[str]:
    """Return the results as an aligned plain-text table.

    >>> print("\\n".join(summary_lines([Outcome("kill ingest", 10, 0, 0, 1.234)])))
    scenario     events  lost  duplicated  orders duplicated  recovery s
    kill ingest      10     0           0                  -        1.23
    """
    rows = [
        (r.scenario, str(r.events), str(r.lost), str(r.duplicated), _shown(r.orders_duplicated),
         _shown(None if r.recovery_s is None else f"{r.recovery_s:.2f}"))
        for r in results
    ]
    widths = [max(len(cell) for cell in column) for column in zip(_HEADINGS, *rows)]
    lines = []
    for row in (_HEADINGS, *rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells))
    return lines


def _shown(value: object) -> str:
    return "-" if value is None else str(value)
