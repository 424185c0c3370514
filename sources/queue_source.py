"""In-process Bytewax source fed by the collector's ``emit`` (embedded mode, no broker).

The collector calls ``QueueSource.emit(topic, key, event)`` from its own
thread; the dataflow drains the thread-safe queue in batches. The queue is
bounded, so a dataflow that falls behind slows the collector down instead of
growing memory. There is no replayable log behind this source: after a crash
the events still queued are gone, which is why the embedded mode relies on the
collector's REST backfill rather than on Bytewax recovery for its input.
"""

from __future__ import annotations

import queue
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from bytewax.inputs import DynamicSource, StatelessSourcePartition

from sources.progress import ProgressReport

__all__ = ["QueueSource"]

_IDLE_WAIT = timedelta(milliseconds=5)


class _QueuePartition(StatelessSourcePartition[tuple[str, Any, None, None]]):
    def __init__(self, items: queue.Queue, closed: threading.Event, batch_size: int,
                 progress: ProgressReport | None) -> None:
        self._items = items
        self._closed = closed
        self._batch_size = batch_size
        self._progress = progress
        self._next_awake: datetime | None = None

    def next_batch(self) -> list[tuple[str, Any, None, None]]:
        batch: list[tuple[str, Any, None, None]] = []
        get = self._items.get_nowait
        try:
            while len(batch) < self._batch_size:
                batch.append(get())
        except queue.Empty:
            if not batch and self._closed.is_set():
                raise StopIteration from None
        self._next_awake = None if batch else datetime.now(timezone.utc) + _IDLE_WAIT
        if self._progress is not None:
            self._progress.add(batch, self._items.empty())
        return batch

    def next_awake(self) -> datetime | None:
        return self._next_awake


class QueueSource(DynamicSource[tuple[str, Any, None, None]]):
    """A Bytewax source whose items are pushed in-process with `emit`.

    Items enter the dataflow as ``(topic, event, None, None)``, the shape of
    the Kafka source's ``(topic, value, partition, offset)``. Every worker drains the
    same queue, so each item is read exactly once.

    Parameters
    ----------
    max_queued
        Capacity of the queue; `emit` blocks while it is full.
    batch_size
        Most items handed to the dataflow per poll.
    report_progress
        Add a `sources.progress.ReadProgress` record when the queue empties
        and when items wait again (the ingest stage's input: a flow that
        falls behind never closes bars on the clock).
    """

    def __init__(self, max_queued: int = 100_000, batch_size: int = 5_000, report_progress: bool = False) -> None:
        self._items: queue.Queue = queue.Queue(maxsize=max_queued)
        self._closed = threading.Event()
        self._batch_size = batch_size
        self._report_progress = report_progress

    def emit(self, topic: str, key: str, event: Any) -> None:
        """Queue one event read from ``topic``; matches the collector's ``emit`` callable.

        ``key`` is accepted for signature compatibility: the dataflow keys
        events by their own coin.
        """
        if self._closed.is_set():
            raise RuntimeError("QueueSource is closed; no more events can be emitted")
        self._items.put((topic, event, None, None))

    def close(self) -> None:
        """Mark the end of input; the dataflow finishes once the queue is drained."""
        self._closed.set()

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _QueuePartition:
        """Build the partition that drains the queue on one worker."""
        progress = ProgressReport("queue", None) if self._report_progress else None
        return _QueuePartition(self._items, self._closed, self._batch_size, progress)
