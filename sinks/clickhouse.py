"""Bytewax sink writing events to ClickHouse, one table per event type, columnar."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from pairflow.clock import WALL_CLOCK
from pairflow.config import StorageSettings
from pairflow.events import Bar
from pairflow.metrics import INGEST_LAG_SECONDS, INGEST_MESSAGES_OUT, INGEST_WRITE_SECONDS
from pairflow.storage import BatchWriter, Store, connect, table_for

__all__ = ["ClickHouseSink"]


class _ClickHousePartition(StatefulSinkPartition[list[Any], None]):
    def __init__(self, store: Store, settings: StorageSettings, insert_lock: threading.Lock) -> None:
        self._store = store
        self._settings = settings
        self._insert_lock = insert_lock
        self._writers: dict[str, BatchWriter] = {}
        self._tables: dict[type, str] = {}
        self._newest: dict[str, int] = {}

    def write_batch(self, values: list[list[Any]]) -> None:
        groups: dict[str, list[Any]] = defaultdict(list)
        tables = self._tables
        for value in values:
            if not value:
                continue
            kind = type(value[0])
            if kind is not Bar and len(set(map(type, value))) == 1:
                # A list of one event type (a coin's trades): its table is found once, not per event.
                table = tables.get(kind)
                if table is None:
                    table = tables[kind] = table_for(value[0])
                groups[table] += value
                continue
            for event in value:
                kind = type(event)
                table = tables.get(kind) if kind is not Bar else None
                if table is None:
                    table = table_for(event)
                    if kind is not Bar:
                        tables[kind] = table
                groups[table].append(event)
        for table, group in groups.items():
            writer = self._writers.get(table)
            if writer is None:
                # A table's columns are its event's fields (tested per table), so a store that is down when the
                # first batch arrives spills it instead of failing the flow on a column look-up.
                columns = type(group[0]).__struct_fields__
                writer = BatchWriter(self._store, table, columns, settings=self._settings, background=False)
                self._writers[table] = writer
            with self._insert_lock:
                writer.add_many(group)
            newest = max(event.recv_ts or event.ts for event in group)
            if newest > self._newest.get(table, 0):
                self._newest[table] = newest

    def snapshot(self) -> None:
        # Runs at the end of every epoch, before Bytewax commits the epoch's input offsets.
        self._flush()

    def close(self) -> None:
        self._flush()
        with self._insert_lock:
            for writer in self._writers.values():
                writer.close()
        self._store.close()

    def _flush(self) -> None:
        started = time.perf_counter()
        stored: dict[str, int] = {}
        with self._insert_lock:
            for table, writer in self._writers.items():
                if writer.held_rows:
                    stored[table] = writer.flush()
        if not stored:
            return
        INGEST_WRITE_SECONDS.observe(time.perf_counter() - started)
        now = WALL_CLOCK.now_ms() / 1000.0
        for table, count in stored.items():
            INGEST_MESSAGES_OUT.labels(table).inc(count)
            INGEST_LAG_SECONDS.labels(table).set(max(now - self._newest.get(table, 0) / 1000.0, 0.0))


class ClickHouseSink(FixedPartitionedSink[list[Any], None]):
    """Write ``(coin, [event, ...])`` items to the table of each event's type.

    Rows are buffered per table and flushed at the end of every epoch (and
    earlier when a table's buffer reaches ``storage.batch_max_rows``), so
    inserts are large while a crash still loses nothing: Bytewax commits an
    epoch's input offsets only after this sink's snapshot, i.e. after the
    flush. Rows written again after a resume carry the same ids and collapse
    in the ReplacingMergeTree tables (read them with FINAL, e.g. `Store.select`).

    Parameters
    ----------
    settings
        Store address plus batch, retry and spill settings. The schema must
        exist (`Store.init_schema`).
    partitions
        Writer partitions, spread over the workers (use the worker count).
        Keep it fixed across restarts of one recovery directory.
    """

    def __init__(self, settings: StorageSettings, partitions: int = 1) -> None:
        self._settings = settings
        self._partitions = partitions
        self._insert_lock = threading.Lock()

    def list_parts(self) -> list[str]:
        """Every writer partition is reachable from every worker."""
        return [str(index) for index in range(self._partitions)]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _ClickHousePartition:
        """Open the store for one writer partition; partitions of one process share the insert path."""
        return _ClickHousePartition(connect(self._settings), self._settings, self._insert_lock)
