"""Where a source partition stands in its log, carried in the stream so a flow can tell a backlog from silence.

A flow that closes the bars of a quiet coin needs to know whether nothing
arrives because the market is quiet (the partition is at the end of its log:
close on the clock) or because the reader is slow, stalled or starved of CPU
while records are still waiting (a backlog: wait, or the bars would depend on
how fast the log happened to be read). Only the reader knows which, so a
reader built with ``report_progress`` appends a `ReadProgress` record to its
batch whenever its partition reaches the end of the log or leaves it
(`sources.kafka_source.market_data_source`). The record travels as
``(topic, ReadProgress, partition, None)``, the shape of every raw record;
`flows.decode.decode_batch` hands it on under `PROGRESS_KEY`.
"""

from __future__ import annotations

import msgspec

__all__ = ["PROGRESS_KEY", "ReadProgress"]

PROGRESS_KEY = "read-progress"


class ReadProgress(msgspec.Struct, frozen=True, gc=False):
    """Partition ``partition`` of ``topic`` reached the end of its log (``at_end``) or has records waiting again."""

    topic: str
    partition: int | None
    at_end: bool
