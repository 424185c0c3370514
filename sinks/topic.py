"""Bytewax sink publishing a stage's events on their topics, so the next stage can run as its own dataflow.

Items are ``(key, [event, ...])``; each event goes to ``TOPIC_OF[type(event)]``
under its coin (or pair) key through an idempotent `sinks.kafka.KafkaSink`.
The sink waits for the broker's acknowledgements at the end of every epoch,
before Bytewax commits that epoch's input offsets, so a crash loses nothing;
events sent again after a resume carry the same ids and readers deduplicate.
The wait lasts two delivery timeouts: a message stuck for one is re-sent
through a rebuilt producer (`sinks.kafka`), and the epoch fails only when that
second attempt is not acknowledged either.
"""

from __future__ import annotations

from typing import Any

from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from pairflow.config import BrokerSettings
from pairflow.errors import PairflowError
from pairflow.events import TOPIC_OF, key_of
from sinks.kafka import KafkaSink

__all__ = ["TopicSink"]


class _TopicPartition(StatefulSinkPartition[list[Any], None]):
    def __init__(self, producer: KafkaSink, flush_timeout_s: float) -> None:
        self._producer = producer
        self._flush_timeout_s = flush_timeout_s

    def write_batch(self, values: list[list[Any]]) -> None:
        emit = self._producer.emit
        for value in values:
            for event in value:
                emit(TOPIC_OF[type(event)], key_of(event), event)

    def snapshot(self) -> None:
        # Runs at the end of every epoch, before Bytewax commits the epoch's input offsets.
        unacknowledged = self._producer.flush(self._flush_timeout_s)
        if unacknowledged:
            raise PairflowError(f"{unacknowledged} messages were not acknowledged by the broker in time")

    def close(self) -> None:
        self._producer.close()


class TopicSink(FixedPartitionedSink[list[Any], None]):
    """Publish ``(key, [event, ...])`` items on each event's topic.

    Parameters
    ----------
    settings
        Broker address, partitions and delivery timeout.
    topics
        Topics created at start if missing (the ones this sink will write).
    partitions
        Producer partitions spread over the workers (use the worker count).
    """

    def __init__(self, settings: BrokerSettings, topics: tuple[str, ...], partitions: int = 1) -> None:
        self._settings = settings
        self._topics = topics
        self._partitions = partitions

    def list_parts(self) -> list[str]:
        """Every producer partition is reachable from every worker."""
        return [str(index) for index in range(self._partitions)]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _TopicPartition:
        """Open one idempotent producer for this partition."""
        return _TopicPartition(
            KafkaSink(self._settings, topics=self._topics), 2 * self._settings.delivery_timeout_ms / 1000.0
        )
