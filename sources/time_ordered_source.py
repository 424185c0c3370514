"""Kafka source reading every partition of its topics through one consumer, in event-time order.

The strategy's inputs (``md.bars``, ``md.books``, ``md.funding``, ...) are
keyed by coin, so each coin's events sit in one partition, in the order its
producer wrote them. Read partition by partition
(`sources.kafka_source.MarketDataSource`), a backlog comes out in whatever
order the fetches land, and a spread sees one leg far ahead of the other.
`TimeOrderedSource` assigns all partitions to one consumer and releases
records through `sources.event_time_merge.EventTimeMerge`: on a backlog the
output is a function of what each partition holds, in offset order --
merged by event time (ties in partition order), each partition's records put
in event-time order within ``window`` places -- however the fetches
interleave and however fast each partition is read. So a killed and resumed
run replays exactly what an uninterrupted one saw, and the order does not
depend on the machine's load. A partition holding several coins need not be
in time order across them (a producer writes one coin's run of bars, then
another's): runs shorter than the window are interleaved back into time
order, and nothing further out of order is dropped, it goes out in its
partition's order for the consumer to judge. A record stamped where the
decoder refuses it (`pairflow.events.ts_problem`: a garbage or microsecond
ts far in the future) is ordered as one without an event time: it goes out
at once, to be dead-lettered with its reason, instead of sitting behind
every real record, which held back its partition (window 1) or its resume
offset (every snapshot then listing all the offsets released after it)
until the merge had nothing else to release. Live, a partition at its end of
log holds no one back, so new bars go out as they arrive.

It is one Bytewax part, read by one worker: bars are a light stream, and the
spreads downstream are still keyed over every worker. Its snapshot is each
partition's first offset not yet emitted and the offsets after it emitted
already, so records buffered at a crash are read again on resume and none is
emitted twice.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from bytewax.inputs import StatefulSourcePartition
from confluent_kafka import Consumer, TopicPartition

from pairflow.events import ts_problem
from pairflow.logs import get_logger
from pairflow.metrics import SOURCE_SILENT_PARTITIONS
from sources.event_time_merge import EventTimeMerge
from sources.kafka_source import (
    CONSUMER_CONFIG, MarketDataSource, RawRecord, at_end_of_log, consumer_config, stopped,
)

__all__ = ["ORDER_WINDOW", "TimeOrderedSource", "time_ordered_source"]

log = get_logger(__name__)

# How many records of a topic partition the strategy's and execution's sources put back in event-time order
# (the `EventTimeMerge` window): ingest publishes a backlog's bars in runs of one coin per partition (runs
# of about 200 records were measured with 1s bars on 3 coins), corrections and other intervals behind newer
# bars. A 2-process ingest writes two coins of one partition from different workers, with no bound on how far
# one falls behind: 617 to 1,642 records were measured over a 400,000-trade backlog (benchmarks/bench_cluster.py),
# and 1,000 gave 1,764 signals instead of 1,906. Beyond the window a bar goes out in partition order and the
# spread refuses it (pairflow_strategy_refused_events, reason out-of-order). Each partition buffers at most
# twice this many records.
ORDER_WINDOW = 4_000


class _Stamped(msgspec.Struct):
    ts: int


_stamp = msgspec.json.Decoder(_Stamped)


def _event_time(value: bytes | None) -> int | None:
    """Return the record's event time, None when it has none the decoder would accept (it then goes out at once)."""
    try:
        ts = _stamp.decode(value).ts  # type: ignore[arg-type]
    except (msgspec.DecodeError, TypeError):
        return None
    return None if ts_problem(ts) else ts


# A partition's resume point: its first offset not emitted, and the offsets after it emitted already.
Resume = tuple[int, tuple[int, ...]]


class _OrderedReader(StatefulSourcePartition[RawRecord, dict[str, Resume]]):
    def __init__(
        self, config: dict[str, Any], starts: dict[str, Resume], batch_size: int, window: int, tail: bool,
        patience_s: float, stop: threading.Event | None,
    ) -> None:
        self._partitions = {key: TopicPartition(key.split("-", 1)[1], int(key.split("-", 1)[0])) for key in starts}
        self._merge = EventTimeMerge(
            list(starts), cap=max(batch_size, 2 * window), patience_s=patience_s, window=window,
            starts={key: offset for key, (offset, _) in starts.items()},
            released={key: ahead for key, (_, ahead) in starts.items()},
        )
        self._consumer = Consumer(config)
        self._consumer.assign([TopicPartition(tp.topic, tp.partition, starts[key][0])
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

    def snapshot(self) -> dict[str, Resume]:
        ahead = self._merge.released_ahead()
        return {key: (offset, ahead[key]) for key, offset in self._merge.resume_offsets().items()
                if offset is not None}

    def close(self) -> None:
        self._consumer.close()


class TimeOrderedSource(MarketDataSource):
    """Read every partition of the topics as one part, releasing records in event-time order; resumable."""

    def __init__(self, *args: Any, patience_s: float = 30.0, window: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._patience_s = patience_s
        self._window = window

    def list_parts(self) -> list[str]:
        """Return the single part: one consumer sees every partition, which is what lets it order them."""
        return ["all"]

    def build_part(
        self, step_id: str, for_part: str, resume_state: dict[str, Resume | int] | None,
    ) -> _OrderedReader:
        """Build the reader of every partition, each resuming at its snapshot point (a bare offset: older ones)."""
        resumed = resume_state or {}
        starts = {key: _resume_point(resumed.get(key, self._starting_offset)) for key in super().list_parts()}
        config = consumer_config(self._brokers, self._add_config)
        # Reading to the end, every partition must be read whole anyway: a slow one is waited for, never passed.
        patience_s = self._patience_s if self._tail else math.inf
        return _OrderedReader(config, starts, self._batch_size, self._window, self._tail, patience_s, self._stop)


def _resume_point(state: Resume | int) -> Resume:
    return (state, ()) if isinstance(state, int) else (state[0], tuple(state[1]))


def time_ordered_source(
    brokers: Sequence[str], topics: Iterable[str], *, tail: bool = True, batch_size: int = 1_000,
    patience_s: float = 30.0, window: int = 1, stop: threading.Event | None = None,
) -> TimeOrderedSource:
    """Return a source reading ``topics`` from the beginning in event-time order, resumable from recovery.

    ``brokers``, ``topics`` and ``tail`` mean what they mean for
    `sources.kafka_source.market_data_source`; the records must be msgspec
    JSON events with a ``ts``. ``batch_size`` is the most messages taken per
    poll and the records buffered per partition before it is paused;
    ``patience_s`` how long a partition that answers nothing may hold the
    others back (reading to the end, ``tail=False``, none is passed over);
    ``window`` how many records of a partition, by offset, are put in
    event-time order among themselves (`EventTimeMerge`; 1: each partition
    in its own order); ``stop``, once set, ends the input (a clean Ctrl-C).
    """
    return TimeOrderedSource(
        list(brokers), list(topics), tail=tail, add_config=dict(CONSUMER_CONFIG), batch_size=batch_size,
        patience_s=patience_s, window=window, stop=stop,
    )
