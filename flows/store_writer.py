"""The store-writer stage: every event topic in, ClickHouse out, from one dataflow that owns the store.

::

    md.* / pf.* ─► decode & validate ─┬─► (key, [event]) ─► storable? ─┬─► ClickHouse (columnar batches)
                                      │                                 └─► dead letters (no table for it)
                                      └─► dead letters ────────────────────► dead-letter sink

chDB admits one process per data directory, so in a multi-process deployment
the stages exchange topics and write no rows themselves; this stage is the one
writer (DESIGN §10). What it stores is exactly what the stages published: the
collector's ``md.*`` records, ingest's bars and book snapshots, the
strategy's signals and execution's intents, orders, fills, positions, risk and
alerts. Raw ``md.l2`` books have no table and are not read.

Exactly-once *rows* come from the same three parts as the ingest stage:
Bytewax recovery resumes the topic offsets, the ClickHouse sink flushes before
an epoch's offsets are committed, and every event carries a stable id, so rows
written again after a crash (even a SIGKILL) collapse in the
ReplacingMergeTree tables and their ``_v`` views.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source

from flows.decode import DEAD_LETTER_KEY, dead_letter, decode_batch
from pairflow.clock import WALL_CLOCK
from pairflow.config import StorageSettings
from pairflow.events import EVENT_OF_TOPIC, TOPIC_OF, Bar
from pairflow.storage import TABLE_OF_EVENT, table_for
from sinks.clickhouse import ClickHouseSink
from sinks.dead_letter import DeadLetterSink

__all__ = ["STORED_TOPICS", "split_storable", "store_writer_dataflow"]

# Every topic whose event type has a table (all but md.l2); bars have one table per interval.
STORED_TOPICS: tuple[str, ...] = tuple(
    topic for topic, kind in EVENT_OF_TOPIC.items() if kind is Bar or kind in TABLE_OF_EVENT
)


def split_storable(items: list[tuple[str, list[Any]]]) -> list[tuple[str, list[Any]]]:
    """Keep the events a table stores; turn the rest (e.g. bars of an interval with no table) into dead letters.

    A decoded event can still have nowhere to go; the sink would fail on it
    and stop the flow, so it is rejected here like a malformed record.

    Examples
    --------
    >>> from pairflow.events import Bar
    >>> bar = Bar(id="b", coin="BTC", ts=1, interval="1m", open=1.0, high=1.0, low=1.0, close=1.0,
    ...           volume=0.0, notional=0.0, vwap=1.0, trades=0, buy_volume=0.0, sell_volume=0.0)
    >>> split_storable([("BTC", [bar])]) == [("BTC", [bar])]
    True

    A bar of an interval with no table (say ``"7m"``) comes out as
    ``("dead-letter", [DeadLetter])`` instead, logged as a malformed record.
    """
    kept: list[tuple[str, list[Any]]] = []
    letters = []
    for key, group in items:
        if key == DEAD_LETTER_KEY:
            kept.append((key, group))
            continue
        storable = []
        for event in group:
            try:
                table_for(event)
            except KeyError as error:
                letters.append(dead_letter(TOPIC_OF[type(event)], event, error.args[0], None, None, WALL_CLOCK))
                continue
            storable.append(event)
        if storable:
            kept.append((key, storable))
    if letters:
        kept.append((DEAD_LETTER_KEY, letters))
    return kept


def store_writer_dataflow(
    settings: StorageSettings, source: Source, dead_letter_dir: Path, *, workers: int = 1, flow_id: str = "store_writer"
) -> Dataflow:
    """Build the store-writer dataflow: records of `STORED_TOPICS` in, rows of their tables out.

    Parameters
    ----------
    settings
        Store address plus batch, retry and spill settings; the schema must exist.
    source
        Raw ``(topic, payload, partition, offset)`` records, e.g.
        ``market_data_source(brokers, STORED_TOPICS)``.
    dead_letter_dir
        Where records that cannot be stored are written as JSON lines.
    workers
        Bytewax workers of this one process; writer partitions are spread over them.
    """
    flow = Dataflow(flow_id)
    # (topic, bytes, partition, offset)
    raw = op.input("input", flow, source)
    # (key, [Event]) | (DEAD_LETTER_KEY, [DeadLetter])
    decoded = op.flat_map_batch("decode", raw, lambda records: split_storable(decode_batch(records)))
    valid = op.branch("split_dead_letters", decoded, lambda item: item[0] != DEAD_LETTER_KEY)
    op.output("store", valid.trues, ClickHouseSink(settings, partitions=workers))
    op.output("dead_letters", valid.falses, DeadLetterSink(Path(dead_letter_dir)))
    return flow
