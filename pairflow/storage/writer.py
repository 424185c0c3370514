"""BatchWriter: buffered, columnar, retrying inserts that never drop rows silently.

Rows accumulate in memory and are inserted column-oriented when the buffer
reaches ``max_rows`` or its oldest row reaches ``max_age_s`` (checked by a
background thread, or by `tick` when ``background=False``). A failed insert is
retried with exponential backoff; if the store stays down the batch is spilled
to ``spill_dir`` and replayed after the next successful insert or at the next
start-up. If the spill cannot be written either (full disk, unwritable path)
the batch stays in memory and `flush` raises a StorageError; once
``buffer_max_rows`` are held, `add` raises a StorageError instead of accepting
more, so the caller keeps the rows it could not hand over (backpressure).

Rows the store rejects (a value that does not fit its column type) are
isolated by bisecting the batch; each bad row is saved under
``spill_dir/<table>/rejected/``, logged and counted, and the rest is stored.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from itertools import chain
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

import msgspec

from pairflow.config import StorageSettings
from pairflow.errors import RejectedRowsError, StorageError
from pairflow.logs import get_logger
from pairflow.metrics import (
    STORAGE_BUFFERED_ROWS,
    STORAGE_FLUSH_SECONDS,
    STORAGE_ROWS_REJECTED,
    STORAGE_ROWS_REPLAYED,
    STORAGE_ROWS_RETRIED,
    STORAGE_ROWS_SPILLED,
    STORAGE_ROWS_WRITTEN,
    STORAGE_SPILL_FAILURES,
)
from pairflow.storage.spill import Batch, SpillDirectory
from pairflow.storage.store import Store

__all__ = ["BatchWriter"]

_RETRY_INTERVAL_S = 1.0
_log = get_logger(__name__)


class BatchWriter:
    """Write rows of one table in columnar batches.

    Parameters
    ----------
    store
        Where rows go.
    table
        Destination table.
    columns
        Column names, in the order of tuples given to `add`; default: the
        table's insertable columns (events are matched to them by field name).
    settings
        Batch size/age, memory bound, retry and spill settings; default
        `StorageSettings()`. Keyword arguments below override single values.
    max_rows, max_age_s, buffer_max_rows, spill_dir
        Overrides of ``settings.batch_max_rows``, ``batch_max_age_s``,
        ``buffer_max_rows`` and ``spill_dir``.
    background
        Run a daemon thread that flushes batches older than ``max_age_s``;
        without it call `tick` periodically.
    """

    def __init__(
        self,
        store: Store,
        table: str,
        columns: Sequence[str] | None = None,
        settings: StorageSettings | None = None,
        *,
        max_rows: int | None = None,
        max_age_s: float | None = None,
        buffer_max_rows: int | None = None,
        spill_dir: Path | None = None,
        background: bool = True,
    ) -> None:
        config = settings or StorageSettings()
        self.store = store
        self.table = table
        self.columns = list(columns) if columns is not None else store.table_columns(table)
        self.max_rows = max_rows or config.batch_max_rows
        self.max_age_s = max_age_s or config.batch_max_age_s
        self.buffer_max_rows = buffer_max_rows or config.buffer_max_rows
        self.retry_attempts = config.retry_attempts
        self.retry_backoff_s = config.retry_backoff_s
        self.retry_backoff_max_s = config.retry_backoff_max_s
        self.spill = SpillDirectory(spill_dir or config.spill_dir, table)

        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._local = threading.local()
        self._events: dict[type, list[Any]] = {}
        self._rows: list[tuple] = []
        self._chunks: list[list[Sequence[Any]]] = []
        self._buffered = 0
        self._oldest: float | None = None
        self._unsaved: deque[Batch] = deque()
        self._unsaved_rows = 0
        self._getters: dict[type, list[attrgetter]] = {}
        self._spill_waiting = False
        self._next_retry_at = 0.0
        self._closed = False
        self._last_error: StorageError | None = None
        self._metrics = _Metrics(table)

        self.spill.release_stale_claims()
        self._spill_waiting = bool(self.spill.pending())
        if self._spill_waiting:
            try:
                self._replay_spilled()
            except StorageError as error:
                self._last_error = error

        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name=f"pairflow-writer-{table}", daemon=True)
            self._thread.start()

    @property
    def held_rows(self) -> int:
        """Return rows in memory: buffered plus batches neither stored nor spilled."""
        return self._buffered + self._unsaved_rows

    @property
    def last_error(self) -> StorageError | None:
        """Return the last insert or spill error (None after a flush that stored everything)."""
        return self._last_error

    def add(self, item: msgspec.Struct | Sequence[Any] | Mapping[str, Any]) -> None:
        """Buffer one row: a msgspec event, a tuple ordered like `columns`, or a dict keyed by column.

        Raises
        ------
        StorageError
            When ``buffer_max_rows`` are already held because neither the store
            nor the spill directory accepts rows; the row is not taken.
        """
        self._reserve(1)
        with self._lock:
            if isinstance(item, msgspec.Struct):
                bucket = self._events.get(type(item))
                if bucket is None:
                    self._check_event_type(type(item))
                    bucket = self._events[type(item)] = []
                bucket.append(item)
            elif isinstance(item, Mapping):
                self._rows.append(tuple(item[column] for column in self.columns))
            else:
                if len(item) != len(self.columns):
                    raise ValueError(f"row for {self.table} has {len(item)} values, expected {len(self.columns)}")
                self._rows.append(tuple(item))
            self._grew(1)
        self._flush_if_full()

    def add_many(self, items: Sequence[msgspec.Struct]) -> None:
        """Buffer many events of one type at once (cheaper than calling `add` per event)."""
        if not items:
            return
        self._reserve(len(items))
        event_type = type(items[0])
        with self._lock:
            bucket = self._events.get(event_type)
            if bucket is None:
                self._check_event_type(event_type)
                bucket = self._events[event_type] = []
            bucket.extend(items)
            self._grew(len(items))
        self._flush_if_full()

    def add_columns(self, columns: Mapping[str, Sequence[Any]] | Sequence[Sequence[Any]]) -> None:
        """Buffer column-oriented rows: a dict of column name to values, or columns ordered like `columns`.

        Lists, tuples and NumPy arrays are accepted; every column must have the same length.
        """
        if isinstance(columns, Mapping):
            missing = [name for name in self.columns if name not in columns]
            if missing:
                raise ValueError(f"columns for {self.table} lack {', '.join(missing)}")
            ordered = [columns[name] for name in self.columns]
        else:
            ordered = list(columns)
            if len(ordered) != len(self.columns):
                raise ValueError(f"{len(ordered)} columns given for {self.table}, expected {len(self.columns)}")
        lengths = {len(column) for column in ordered}
        if len(lengths) != 1:
            raise ValueError(f"columns for {self.table} have different lengths: {sorted(lengths)}")
        count = lengths.pop()
        if count == 0:
            return
        self._reserve(count)
        with self._lock:
            self._chunks.append(ordered)
            self._grew(count)
        self._flush_if_full()

    def tick(self) -> None:
        """Flush when the oldest buffered row is older than ``max_age_s`` (for writers without a thread)."""
        now = time.monotonic()
        oldest = self._oldest
        aged = oldest is not None and now - oldest >= self.max_age_s
        retry_due = (self._unsaved or self._spill_waiting) and now >= self._next_retry_at
        if aged or retry_due:
            self._next_retry_at = now + max(self.max_age_s, _RETRY_INTERVAL_S)
            self.flush()

    def flush(self) -> int:
        """Insert everything buffered now; return the number of rows stored by this call.

        If the store stays unreachable after the retries, the batch is spilled
        and this returns normally (the rows are safe on disk).

        Raises
        ------
        StorageError
            When a batch could be neither inserted nor spilled; it stays in memory
            and the next flush tries again.
        """
        with self._flush_lock:
            self._local.flushing = True
            try:
                return self._flush_locked()
            finally:
                self._local.flushing = False

    def close(self) -> None:
        """Stop the background thread and flush what is left (raises StorageError if rows could not be saved)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _flush_locked(self) -> int:
        batch = self._take()
        if batch is not None:
            self._unsaved.append(batch)
            self._unsaved_rows += batch.rows
        stored = 0
        while self._unsaved:
            pending = self._unsaved[0]
            try:
                self._insert_with_retry(pending)
            except RejectedRowsError as error:
                self._unsaved.popleft()
                if pending.rows > 1:
                    self._unsaved.extendleft(reversed(pending.halves()))
                else:
                    self._reject(pending, error)
                continue
            except StorageError as error:
                self._last_error = error
                self._spill_unsaved()
                return stored
            self._unsaved.popleft()
            self._unsaved_rows -= pending.rows
            self._metrics.buffered.set(self.held_rows)
            stored += pending.rows
        self._last_error = None
        if self._spill_waiting:
            try:
                stored += self._replay_spilled()
            except StorageError as error:
                self._last_error = error
        return stored

    def _take(self) -> Batch | None:
        with self._lock:
            if self._buffered == 0:
                return None
            events, rows, chunks, count = self._events, self._rows, self._chunks, self._buffered
            self._events, self._rows, self._chunks = {}, [], []
            self._buffered = 0
            self._oldest = None
            self._unsaved_rows += count
        parts = list(chunks)
        for event_type, bucket in events.items():
            parts.append([list(map(getter, bucket)) for getter in self._getters[event_type]])
        if rows:
            parts.append([list(map(itemgetter(index), rows)) for index in range(len(self.columns))])
        self._unsaved_rows -= count
        return Batch(self.table, self.columns, _concatenate(parts, len(self.columns)), count)

    def _insert_with_retry(self, batch: Batch) -> None:
        started = time.perf_counter()
        for attempt in range(self.retry_attempts + 1):
            try:
                self.store.insert_columns(batch.table, batch.columns, batch.column_names)
                break
            except RejectedRowsError:
                raise
            except StorageError:
                if attempt == self.retry_attempts:
                    raise
                self._metrics.retried.inc(batch.rows)
                time.sleep(min(self.retry_backoff_s * (2**attempt), self.retry_backoff_max_s))
        self._metrics.flush_seconds.observe(time.perf_counter() - started)
        self._metrics.written.inc(batch.rows)

    def _spill_unsaved(self) -> None:
        while self._unsaved:
            batch = self._unsaved[0]
            try:
                self.spill.save(batch)
            except StorageError as error:
                self._metrics.spill_failures.inc()
                self._last_error = error
                raise
            self._unsaved.popleft()
            self._unsaved_rows -= batch.rows
            self._metrics.spilled.inc(batch.rows)
            self._metrics.buffered.set(self.held_rows)
            self._spill_waiting = True

    def _replay_spilled(self) -> int:
        replayed = 0
        progressed = True
        while progressed:
            progressed = False
            for claim, batch in self.spill.claimed():
                progressed = True
                try:
                    self.store.insert_columns(batch.table, batch.columns, batch.column_names)
                except RejectedRowsError as error:
                    self._split_rejected_spill(claim, batch, error)
                    continue
                except StorageError:
                    self.spill.release(claim)
                    raise
                self.spill.done(claim)
                self._metrics.replayed.inc(batch.rows)
                self._metrics.written.inc(batch.rows)
                replayed += batch.rows
        self._spill_waiting = bool(self.spill.pending())
        return replayed

    def _reject(self, batch: Batch, error: RejectedRowsError) -> None:
        try:
            saved = self.spill.save_rejected(batch)
        except StorageError:
            self._unsaved.appendleft(batch)
            raise
        self._unsaved_rows -= batch.rows
        self._metrics.rejected.inc(batch.rows)
        _log.error("rows rejected by the store", table=self.table, rows=batch.rows, reason=str(error), saved=str(saved))

    def _split_rejected_spill(self, claim: Path, batch: Batch, error: RejectedRowsError) -> None:
        try:
            if batch.rows == 1:
                saved = self.spill.save_rejected(batch)
                self._metrics.rejected.inc(1)
                _log.error("rows rejected by the store", table=self.table, rows=1, reason=str(error), saved=str(saved))
            else:
                for half in batch.halves():
                    self.spill.save(half)
        except StorageError:
            self.spill.release(claim)
            raise
        self.spill.done(claim)

    def _reserve(self, count: int) -> None:
        if self._closed:
            raise StorageError(f"writer for {self.table} is closed")
        if count > self.buffer_max_rows:
            raise StorageError(
                f"{count} rows offered to the {self.table} writer at once,"
                f" more than buffer_max_rows={self.buffer_max_rows}"
            )
        if self.held_rows + count <= self.buffer_max_rows:
            return
        if not getattr(self._local, "flushing", False):
            try:
                self.flush()
            except StorageError:
                pass
        if self.held_rows + count > self.buffer_max_rows:
            reason = f": {self._last_error}" if self._last_error is not None else ""
            raise StorageError(
                f"writer for {self.table} is full ({self.held_rows} rows held, limit {self.buffer_max_rows});"
                f" rows were not accepted{reason}"
            )

    def _grew(self, count: int) -> None:
        if self._buffered == 0:
            self._oldest = time.monotonic()
        self._buffered += count
        self._metrics.buffered.set(self.held_rows)

    def _flush_if_full(self) -> None:
        if self._buffered >= self.max_rows and not getattr(self._local, "flushing", False):
            self.flush()

    def _check_event_type(self, event_type: type) -> None:
        fields = event_type.__struct_fields__
        missing = [column for column in self.columns if column not in fields]
        if missing:
            raise ValueError(
                f"{event_type.__name__} cannot be written to {self.table}: no field for column(s) {', '.join(missing)}"
            )
        self._getters[event_type] = [attrgetter(column) for column in self.columns]

    def _run(self) -> None:
        interval = max(min(self.max_age_s / 4, 0.5), 0.005)
        while not self._stop.wait(interval):
            try:
                self.tick()
            except StorageError as error:
                self._last_error = error


class _Metrics:
    def __init__(self, table: str) -> None:
        self.written = STORAGE_ROWS_WRITTEN.labels(table)
        self.retried = STORAGE_ROWS_RETRIED.labels(table)
        self.spilled = STORAGE_ROWS_SPILLED.labels(table)
        self.replayed = STORAGE_ROWS_REPLAYED.labels(table)
        self.rejected = STORAGE_ROWS_REJECTED.labels(table)
        self.spill_failures = STORAGE_SPILL_FAILURES.labels(table)
        self.flush_seconds = STORAGE_FLUSH_SECONDS.labels(table)
        self.buffered = STORAGE_BUFFERED_ROWS.labels(table)


def _concatenate(parts: list[list[Sequence[Any]]], width: int) -> list[Sequence[Any]]:
    if len(parts) == 1:
        return parts[0]
    return [list(chain.from_iterable(part[index] for part in parts)) for index in range(width)]
