"""Where a source partition stands in its log, carried in the stream so a flow can tell a backlog from silence.

A flow that closes the bars of a quiet coin needs to know whether nothing
arrives because the market is quiet (the partition is at the end of its log:
close on the clock) or because the reader is slow, stalled or starved of CPU
while records are still waiting (a backlog: wait, or the bars would depend on
how fast the log happened to be read). Only the reader knows which, so a
reader built with ``report_progress`` appends a `ReadProgress` record to its
batch whenever its partition reaches the end of the log or leaves it
(`sources.kafka_source.market_data_source`, and in embedded mode
`sources.queue_source.QueueSource` and `sources.journal.Journal`), through one
`ProgressReport` each. The record travels as ``(topic, ReadProgress,
partition, None)``, the shape of every raw record;
`flows.decode.decode_batch` hands it on under `PROGRESS_KEY`.
"""

from __future__ import annotations

import msgspec

__all__ = ["PROGRESS_KEY", "ProgressReport", "ReadProgress"]

PROGRESS_KEY = "read-progress"


class ReadProgress(msgspec.Struct, frozen=True, gc=False):
    """Partition ``partition`` of ``topic`` reached the end of its log (``at_end``) or has records waiting again."""

    topic: str
    partition: int | None
    at_end: bool


class ProgressReport:
    """What one reader last said about its partition, so it says only what changed.

    Examples
    --------
    >>> report = ProgressReport("md.trades", 0)
    >>> report.add(["a record"], at_end=False)
    ['a record', ('md.trades', ReadProgress(topic='md.trades', partition=0, at_end=False), 0, None)]
    >>> report.add(["another"], at_end=False), report.add([], at_end=None)
    (['another'], [])
    >>> report.add([], at_end=True)
    [('md.trades', ReadProgress(topic='md.trades', partition=0, at_end=True), 0, None)]
    """

    def __init__(self, topic: str, partition: int | None) -> None:
        self._topic = topic
        self._partition = partition
        self._reported: bool | None = None

    def add(self, batch: list, at_end: bool | None) -> list:
        """Append a `ReadProgress` record to ``batch`` when ``at_end`` (None: this poll told nothing) changed."""
        if at_end is not None and at_end is not self._reported:
            self._reported = at_end
            batch.append((self._topic, ReadProgress(self._topic, self._partition, at_end), self._partition, None))
        return batch
