"""Kafka source reading every partition of its topics through one consumer, in event-time order.

The strategy's inputs (``md.bars``, ``md.funding``, ``md.fees``) are keyed by
coin, so each coin sits in its own partition. Read partition by partition
(`sources.kafka_source.MarketDataSource`), a backlog comes out in whatever
order the fetches land, and a spread sees one leg far ahead of the other.
`TimeOrderedSource` assigns all partitions to one consumer and releases
records through `sources.event_time_merge.EventTimeMerge`: on a backlog the
output is the records sorted by event time (ties in partition order),
however the fetches interleave, so a killed and resumed run replays exactly
what an uninterrupted one saw. Live, a partition at its end of log holds no
one back, so new bars go out as they arrive.

It is one Bytewax part, read by one worker: bars are a light stream, and the
spreads downstream are still keyed over every worker. Its snapshot is each
partition's first offset not yet emitted, so records buffered at a crash are
read again on resume.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from bytewax.inputs import StatefulSourcePartition
from confluent_kafka import Consumer, TopicPartition

from pairflow.logs import get_logger
from pairflow.metrics import SOURCE_SILENT_PARTITIONS
from sources.event_time_merge import EventTimeMerge
from sources.kafka_source import (
    CONSUMER_CONFIG, MarketDataSource, RawRecord, at_end_of_log, consumer_config, stopped,
)

__all__ = ["TimeOrderedSource", "time_ordered_source"]

log = get_logger(__name__)


class _Stamped(msgspec.Struct):
    ts: int


_stamp = msgspec.json.Decoder(_Stamped)


def _event_time(value: bytes | None) -> int | None:
    try:
        return _stamp.decode(value).ts  # type: ignore[arg-type]
    except (msgspec.DecodeError, TypeError):
        return None


class _OrderedReader(StatefulSourcePartition[RawRecord, dict[str, int]]):
    def __init__(
        self, config: dict[str, Any], starts: dict[str, int], batch_size: int, tail: bool, patience_s: float,
        stop: threading.Event | None,
    ) -> None:
        self._partitions = {key: TopicPartition(key.split("-", 1)[1], int(key.split("-", 1)[0])) for key in starts}
        self._merge = EventTimeMerge(list(starts), cap=batch_size, patience_s=patience_s)
        self._consumer = Consumer(config)
        self._consumer.assign([TopicPartition(tp.topic, tp.partition, starts[key])
                               for key, tp in self._partitions.items()])
        self._batch_size = batch_size
        self._tail = tail
        self._stop = stop
        self._done = False
        self._paused: set[str] = set()
        self._ignored: frozenset[str] = frozenset()

    def next_batch(self) -> list[RawRecord]:
        if self._done or stopped(self._stop):
            raise StopIteration
        merge = self._merge
        for message in self._consumer.consume(self._batch_size, 0.001):
            key = f"{message.partition()}-{message.topic()}"
            if message.error() is not None:
                if at_end_of_log(message) and key in self._partitions:
                    merge.at_end(key)
                continue
            value = message.value()
            merge.add(key, message.offset(), _event_time(value), (message.topic(), value, message.partition(),
                                                                  message.offset()))
        out = merge.release(time.monotonic())
        self._report_silent(merge.ignored)
        self._pace(merge.paused())
        self._done = not self._tail and merge.drained
        return out

    def _report_silent(self, ignored: frozenset[str]) -> None:
        for key in ignored - self._ignored:
            SOURCE_SILENT_PARTITIONS.inc()
            log.warning("partition silent, no longer holding the others back", partition=key)
        self._ignored = ignored

    def _pace(self, full: set[str]) -> None:
        if full != self._paused:
            if full - self._paused:
                self._consumer.pause([self._partitions[key] for key in full - self._paused])
            if self._paused - full:
                self._consumer.resume([self._partitions[key] for key in self._paused - full])
            self._paused = full

    def snapshot(self) -> dict[str, int]:
        return {key: offset for key, offset in self._merge.resume_offsets().items() if offset is not None}

    def close(self) -> None:
        self._consumer.close()


class TimeOrderedSource(MarketDataSource):
    """Read every partition of the topics as one part, releasing records in event-time order; resumable."""

    def __init__(self, *args: Any, patience_s: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._patience_s = patience_s

    def list_parts(self) -> list[str]:
        """Return the single part: one consumer sees every partition, which is what lets it order them."""
        return ["all"]

    def build_part(self, step_id: str, for_part: str, resume_state: dict[str, int] | None) -> _OrderedReader:
        """Build the reader of every partition, each resuming at its snapshot offset."""
        resumed = resume_state or {}
        starts = {key: resumed.get(key, self._starting_offset) for key in super().list_parts()}
        config = consumer_config(self._brokers, self._add_config)
        return _OrderedReader(config, starts, self._batch_size, self._tail, self._patience_s, self._stop)


def time_ordered_source(
    brokers: Sequence[str], topics: Iterable[str], *, tail: bool = True, batch_size: int = 1_000,
    patience_s: float = 30.0, stop: threading.Event | None = None,
) -> TimeOrderedSource:
    """Return a source reading ``topics`` from the beginning in event-time order, resumable from recovery.

    ``brokers``, ``topics`` and ``tail`` mean what they mean for
    `sources.kafka_source.market_data_source`; the records must be msgspec
    JSON events with a ``ts``. ``batch_size`` is the most messages taken per
    poll and the records buffered per partition before it is paused;
    ``patience_s`` how long a partition that answers nothing may hold the
    others back; ``stop``, once set, ends the input (a clean Ctrl-C).
    """
    return TimeOrderedSource(
        list(brokers), list(topics), tail=tail, add_config=dict(CONSUMER_CONFIG), batch_size=batch_size,
        patience_s=patience_s, stop=stop,
    )
