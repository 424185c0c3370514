"""Kafka source for the market-data topics (``md.*``), built on Bytewax's KafkaSource.

Partitions are assigned directly (no consumer-group join) and each partition's
next offset is stored in Bytewax's recovery snapshots, so a resumed flow
continues exactly after the last completed epoch.

`MarketDataSource` keeps KafkaSource's partition discovery and configuration
but reads with a leaner partition: it emits plain ``(topic, value, partition,
offset)`` tuples instead of one ``KafkaSourceMessage`` dataclass per message
(about half of the per-message cost in a profile of the ingest flow), and it
never lets an error record move the resume offset. Consumer errors (a broker
restart, a lost connection) are counted and logged instead of crashing the
flow; librdkafka reconnects on its own. KafkaSource fails at start-up on a
missing topic, so create them first with `pairflow.topics.ensure_topics`.

Given a ``stop`` event, every partition ends its input once it is set (Ctrl-C
in `app.runners.until_stopped`): the flow then finishes its epoch and closes
its sinks as at the end of the log, instead of being interrupted mid-step.

With ``report_progress`` a partition also tells the flow when records wait
and, when tailing, when it reaches the end of its log (`sources.progress`), so
the ingest stage closes quiet bars on the clock only at the end of the log,
never while a backlog is read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from bytewax.connectors.kafka import KafkaSource
from bytewax.inputs import StatefulSourcePartition
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from pairflow.events import MARKET_TOPICS
from pairflow.logs import get_logger
from pairflow.metrics import INGEST_CONSUMER_LAG, INGEST_SOURCE_ERRORS
from sources.progress import ProgressReport

__all__ = ["CONSUMER_CONFIG", "MarketDataSource", "at_end_of_log", "consumer_config", "market_data_source", "stopped"]

log = get_logger(__name__)

CONSUMER_CONFIG: dict[str, str] = {
    # Fetch eagerly: the default 500 ms fetch wait caps throughput on small partitions.
    "fetch.wait.max.ms": "10",
    "max.partition.fetch.bytes": str(16 << 20),
    "fetch.max.bytes": str(64 << 20),
    "queued.min.messages": "500000",
    # After a broker lost its log, start over from the beginning of the new log
    # rather than skipping to its end.
    "auto.offset.reset": "earliest",
}

RawRecord = tuple[str, Any, "int | None", "int | None"]


def at_end_of_log(message: Message) -> bool:
    """Return whether the errored ``message`` marks the end of its partition; count and log any other error.

    Consumer errors (a broker restart, a lost connection) never stop a flow:
    librdkafka reconnects on its own.
    """
    error = message.error()
    if error.code() == KafkaError._PARTITION_EOF:
        return True
    INGEST_SOURCE_ERRORS.inc()
    log.warning("kafka consumer error", topic=message.topic(), partition=message.partition(), error=error.str())
    return False


def consumer_config(brokers: Sequence[str], add_config: dict[str, str]) -> dict[str, Any]:
    """Return the settings of a consumer assigned its partitions directly, ``add_config`` applied last."""
    config = {
        "group.id": "pairflow-ingest-unused",
        "enable.auto.commit": "false",
        "bootstrap.servers": ",".join(brokers),
        "enable.partition.eof": "true",
    }
    config.update(add_config)
    return config


class _PartitionReader(StatefulSourcePartition[RawRecord, int]):
    def __init__(
        self, config: dict[str, Any], topic: str, partition: int, offset: int, batch_size: int, tail: bool,
        stop: threading.Event | None, report_progress: bool = False,
    ) -> None:
        self._consumer = Consumer(config)
        self._consumer.assign([TopicPartition(topic, partition, offset)])
        self._topic = topic
        self._partition = partition
        self._offset = offset
        self._batch_size = batch_size
        self._tail = tail
        self._stop = stop
        self._at_end = False
        self._progress = ProgressReport(topic, partition) if report_progress else None
        self._lag = INGEST_CONSUMER_LAG.labels(topic, str(partition))
        self._position = TopicPartition(topic, partition)

    def next_batch(self) -> list[RawRecord]:
        if self._at_end or stopped(self._stop):
            raise StopIteration
        topic, partition = self._topic, self._partition
        messages = self._consumer.consume(self._batch_size, 0.001)
        batch = [(topic, message.value(), partition, message.offset()) for message in messages
                 if message.error() is None]
        at_end = self._after_errors(messages) if len(batch) != len(messages) else (False if batch else None)
        if batch:
            self._offset = batch[-1][3] + 1
            high = self._consumer.get_watermark_offsets(self._position, cached=True)[1]
            if high >= 0:
                self._lag.set(max(high - self._offset, 0))
        return self._progress.add(batch, at_end) if self._progress is not None else batch

    def _after_errors(self, messages: list[Message]) -> bool | None:
        """Count and log a poll's error records; return whether it left the partition at its end (None: no word)."""
        at_end = None
        for message in messages:
            if message.error() is None:
                at_end = False
            elif at_end_of_log(message):
                self._at_end = not self._tail
                # A finite read's end is the end of the input (the flow's EOF closes the bars), not a quiet market.
                if self._tail:
                    at_end = True
        return at_end

    def snapshot(self) -> int:
        return self._offset

    def close(self) -> None:
        self._consumer.close()


class MarketDataSource(KafkaSource):
    """KafkaSource emitting ``(topic, value, partition, offset)`` tuples; resumable from recovery.

    ``stop``, when given and set, ends every partition's input; ``report_progress`` adds
    `sources.progress.ReadProgress` records (see the module docstring).
    """

    def __init__(self, *args: Any, stop: threading.Event | None = None, report_progress: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stop = stop
        self._report_progress = report_progress

    def list_parts(self) -> list[str]:
        """List every ``<partition>-<topic>`` part of the configured topics."""
        admin = AdminClient({"bootstrap.servers": ",".join(self._brokers)})
        parts = []
        for topic in self._topics:
            metadata = admin.list_topics(topic, timeout=10).topics[topic]
            if metadata.error is not None:
                raise RuntimeError(f"topic {topic} cannot be read: {metadata.error.str()}")
            parts += [f"{index}-{topic}" for index in sorted(metadata.partitions)]
        return parts

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _PartitionReader:
        """Build the reader of one ``<partition>-<topic>`` part, resuming at the snapshot offset."""
        index, topic = for_part.split("-", 1)
        offset = self._starting_offset if resume_state is None else resume_state
        config = consumer_config(self._brokers, self._add_config)
        return _PartitionReader(config, topic, int(index), offset, self._batch_size, self._tail, self._stop,
                                self._report_progress)


def market_data_source(
    brokers: Sequence[str],
    topics: Iterable[str] = MARKET_TOPICS,
    *,
    tail: bool = True,
    batch_size: int = 10_000,
    add_config: dict[str, str] | None = None,
    stop: threading.Event | None = None,
    report_progress: bool = False,
) -> MarketDataSource:
    """Return a source reading ``topics`` from the beginning, resumable from recovery.

    Parameters
    ----------
    brokers
        ``host:port`` bootstrap addresses.
    topics
        Topics to read; every market-data topic by default.
    tail
        Keep waiting for new messages at the end of the log (True for a live
        flow); False ends the flow once every partition is read (tests,
        backfills).
    batch_size
        Most messages taken from one partition per poll.
    add_config
        Extra librdkafka settings, applied over `CONSUMER_CONFIG`.
    stop
        Once set, every partition ends its input: the flow finishes as at the
        end of the log (a clean Ctrl-C, `app.runners.until_stopped`).
    report_progress
        A partition adds a `sources.progress.ReadProgress` record when records
        wait and, when tailing, when it reaches the end of its log (the ingest
        stage's input; `flows.decode.decode_batch` hands them on). A finite
        read never reports its end: the flow's end of input closes the bars.
    """
    config = dict(CONSUMER_CONFIG)
    config.update(add_config or {})
    return MarketDataSource(list(brokers), list(topics), tail=tail, add_config=config, batch_size=batch_size,
                            stop=stop, report_progress=report_progress)


def stopped(stop: threading.Event | None) -> bool:
    """Return whether a reader was asked to end its input."""
    return stop is not None and stop.is_set()
