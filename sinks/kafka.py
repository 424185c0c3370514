"""Idempotent Kafka/Redpanda producer that never drops a message silently.

`KafkaSink` keeps its own ledger of every message handed to librdkafka until
the broker acknowledges it. The ledger is bounded: once it holds
``max_buffered_messages`` messages, `KafkaSink.produce` blocks, polling the
producer until acknowledgements make room (backpressure), instead of raising
or discarding. A message that cannot be delivered within the delivery timeout
(broker down, or a broker that lost its state and no longer knows this
producer's id) is not lost: the producer is rebuilt, topics are re-created if
the broker forgot them, and every unacknowledged message is sent again in its
original order. Across such a rebuild delivery is at-least-once; events carry
stable ids so readers can deduplicate.

A broker that restarts without its producer state (tansu's memory storage, a
replaced Redpanda node) no longer knows the producer id: librdkafka then
bumps the epoch of that unknown id in a loop (``UNKNOWN_PRODUCER_ID``) until
the delivery timeout, or fails with an out-of-order sequence, which is fatal
and makes every later ``produce`` raise. So a lost connection marks the
producer suspect, and it is rebuilt (a fresh producer id from the broker that
answers now) as soon as the broker answers again; a fatal error rebuilds it
at once, and ``produce`` on a producer that already failed fatally keeps the
message for the rebuild instead of raising.

Use one sink from one thread: delivery callbacks run inside `poll`/`flush`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from pairflow.config import BrokerSettings
from pairflow.errors import PairflowError
from pairflow.events import Event, encode
from pairflow.logs import get_logger
from pairflow.metrics import (
    KAFKA_BACKPRESSURE_WAITS,
    KAFKA_DELIVERY_FAILURES,
    KAFKA_PRODUCED,
    KAFKA_PRODUCER_RESETS,
    KAFKA_QUEUE_DEPTH,
    KAFKA_RESENT,
    KAFKA_UNDELIVERED,
)
from pairflow.topics import all_topics, ensure_topics, topic_specs

__all__ = ["KafkaSink", "SinkStats", "deliver"]

_log = get_logger(__name__)
_librdkafka_log = logging.getLogger("librdkafka")

_PURGED = frozenset({KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT})
_CONNECTION_LOST = frozenset({KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT})
_PROBE_TIMEOUT_S = 0.2
_RESET_RETRY_S = 1.0
_TOPIC_TIMEOUT_AT_START_S = 5.0
_TOPIC_TIMEOUT_ON_RESET_S = 0.5
_SERVICE_INTERVAL_S = 0.05


@dataclass
class SinkStats:
    """Counts of one sink instance (the Prometheus metrics aggregate all instances)."""

    produced: int = 0
    delivery_failures: int = 0
    backpressure_waits: int = 0
    resets: int = 0
    resent: int = 0


class KafkaSink:
    """Produce events to a Kafka-protocol broker with idempotence and bounded buffering.

    Parameters
    ----------
    settings
        Broker address, partitions, buffer bound and delivery timeout.
    topics
        Topics to create (with the configured partitions) at start and after a
        broker restart; default: every pairflow topic.
    """

    def __init__(self, settings: BrokerSettings | None = None, topics: tuple[str, ...] | None = None) -> None:
        self.settings = settings or BrokerSettings()
        self.topics = topics or all_topics()
        self.max_buffered = self.settings.max_buffered_messages
        self.stats = SinkStats()
        self._config: dict[str, Any] = {
            "bootstrap.servers": self.settings.bootstrap_servers,
            "client.id": self.settings.client_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": self.settings.linger_ms,
            "message.timeout.ms": self.settings.delivery_timeout_ms,
            "queue.buffering.max.messages": self.max_buffered + 1,
            "logger": _librdkafka_log,
        }
        self._pending: dict[int, tuple[str, str, bytes]] = {}
        self._next_seq = 0
        self._generation = 0
        self._reset_needed = False
        self._reset_reason = ""
        self._next_reset_at = 0.0
        self._connection_lost = False
        self._next_probe_at = 0.0
        self._closed = False
        self._ensure_topics(_TOPIC_TIMEOUT_AT_START_S)
        self._producer = self._new_producer()

    @property
    def pending(self) -> int:
        """Return the number of messages not yet acknowledged by the broker."""
        return len(self._pending)

    def emit(self, topic: str, key: str, event: Event) -> None:
        """Produce ``event`` as msgspec JSON to ``topic`` under ``key`` (the collector's emit callable)."""
        self.produce(topic, key, encode(event))

    def produce(self, topic: str, key: str, value: bytes) -> None:
        """Hand one message to the producer, blocking while the local buffer is full."""
        if self._closed:
            raise RuntimeError("KafkaSink is closed")
        if len(self._pending) >= self.max_buffered:
            self._wait_for_space()
        seq = self._next_seq
        self._next_seq += 1
        self._pending[seq] = (topic, key, value)
        KAFKA_QUEUE_DEPTH.inc()
        self._send(seq)
        self._service(0)

    def poll(self, timeout_s: float = 0.0) -> None:
        """Serve delivery reports (and rebuild the producer if messages are stuck)."""
        self._service(timeout_s)

    def flush(self, timeout_s: float | None = None) -> int:
        """Wait until every message is acknowledged or ``timeout_s`` passes; return how many remain."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self._pending:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            wait_s = min(_SERVICE_INTERVAL_S * 4, remaining) if remaining is not None else 0.2
            self._guarded(lambda: self._producer.flush(wait_s))
            self._service(0)
        return len(self._pending)

    def close(self, timeout_s: float = 30.0) -> int:
        """Flush for up to ``timeout_s``, then stop; return (and log, and count) the undelivered messages."""
        if self._closed:
            return len(self._pending)
        remaining = self.flush(timeout_s)
        self._closed = True
        if remaining:
            KAFKA_UNDELIVERED.inc(remaining)
            _log.error("kafka sink closed with undelivered messages", undelivered=remaining)
        self._discard(self._producer)
        return remaining

    def __enter__(self) -> KafkaSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _wait_for_space(self) -> None:
        self.stats.backpressure_waits += 1
        KAFKA_BACKPRESSURE_WAITS.inc()
        _log.warning("kafka buffer full, blocking producer", buffered=len(self._pending))
        while len(self._pending) >= self.max_buffered:
            self._service(_SERVICE_INTERVAL_S)

    def _send(self, seq: int) -> None:
        topic, key, value = self._pending[seq]
        generation = self._generation
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key,
                    on_delivery=lambda error, message: self._on_delivery(seq, generation, error),
                )
                return
            except BufferError:
                self.stats.backpressure_waits += 1
                KAFKA_BACKPRESSURE_WAITS.inc()
                self._service(_SERVICE_INTERVAL_S)
                if self._generation != generation:
                    return
            except KafkaException as exception:
                # A producer that failed fatally refuses every message; this one stays in the ledger for the rebuild.
                self._on_call_error(exception)
                return

    def _on_delivery(self, seq: int, generation: int, error: KafkaError | None) -> None:
        if error is None:
            entry = self._pending.pop(seq, None)
            if entry is not None:
                self.stats.produced += 1
                KAFKA_PRODUCED.labels(entry[0]).inc()
                KAFKA_QUEUE_DEPTH.dec()
            return
        if generation != self._generation or error.code() in _PURGED:
            return
        entry = self._pending.get(seq)
        topic = entry[0] if entry else ""
        self.stats.delivery_failures += 1
        KAFKA_DELIVERY_FAILURES.labels(topic, error.name()).inc()
        if not self._reset_needed:
            _log.error("kafka delivery failed, will rebuild producer and re-send", topic=topic, error=error.str())
            self._request_reset(error.str())

    def _on_error(self, generation: int, error: KafkaError) -> None:
        if generation != self._generation:
            return
        if error.fatal():
            _log.error("kafka producer fatal error, will rebuild producer", error=error.str())
            self._request_reset(error.str())
        elif error.code() in _CONNECTION_LOST:
            if not self._connection_lost:
                _log.warning("kafka broker connection lost, will rebuild producer when it answers", error=error.str())
            self._connection_lost = True
        else:
            _log.debug("kafka client error", error=error.str())

    def _request_reset(self, reason: str) -> None:
        if not self._reset_needed:
            self._reset_needed = True
            self._reset_reason = reason

    def _on_call_error(self, exception: KafkaException) -> None:
        error = exception.args[0]
        if not (error.fatal() or error.code() == KafkaError._FATAL):
            raise exception
        self._request_reset(error.str())

    def _guarded(self, call: Callable[[], object]) -> None:
        try:
            call()
        except KafkaException as exception:
            self._on_call_error(exception)

    def _discard(self, producer: Producer) -> None:
        self._guarded(lambda: producer.purge(in_queue=True, in_flight=True, blocking=False))
        self._guarded(lambda: producer.poll(0))

    def _service(self, timeout_s: float) -> None:
        self._guarded(lambda: self._producer.poll(timeout_s))
        now = time.monotonic()
        if self._connection_lost and not self._reset_needed and now >= self._next_probe_at:
            self._next_probe_at = now + _RESET_RETRY_S
            if self._broker_answers():
                self._request_reset("broker connection restored; it may have lost this producer's state")
        if self._reset_needed and now >= self._next_reset_at:
            self._reset()

    def _broker_answers(self) -> bool:
        try:
            self._producer.list_topics(timeout=_PROBE_TIMEOUT_S)
        except KafkaException:
            return False
        return True

    def _new_producer(self) -> Producer:
        generation = self._generation
        return Producer({**self._config, "error_cb": lambda error: self._on_error(generation, error)})

    def _reset(self) -> None:
        old, self._generation = self._producer, self._generation + 1
        self._discard(old)
        self._reset_needed = False
        self._connection_lost = False
        self._next_reset_at = time.monotonic() + _RESET_RETRY_S
        self._ensure_topics(_TOPIC_TIMEOUT_ON_RESET_S)
        self._producer = self._new_producer()
        self.stats.resets += 1
        KAFKA_PRODUCER_RESETS.inc()
        _log.warning("kafka producer rebuilt", reason=self._reset_reason, resending=len(self._pending))
        for seq in sorted(self._pending):
            self.stats.resent += 1
            KAFKA_RESENT.inc()
            self._send(seq)

    def _ensure_topics(self, timeout_s: float) -> None:
        admin = AdminClient({"bootstrap.servers": self.settings.bootstrap_servers, "logger": _librdkafka_log})
        try:
            ensure_topics(admin, topic_specs(self.settings, self.topics), timeout_s=timeout_s)
        except KafkaException as error:
            _log.warning("kafka topics not verified, broker unreachable", error=str(error))


def deliver(settings: BrokerSettings, topic: str, keyed: Sequence[tuple[str, Event]], what: str = "events") -> None:
    """Send ``(key, event)`` pairs to ``topic`` and wait for the broker to take them all.

    For one-off publishers (a scan's accepted pairs, an operator's parameter
    change) whose caller must know the message arrived.

    Raises
    ------
    PairflowError
        When some were not delivered within ``settings.delivery_timeout_ms``.
    """
    with KafkaSink(settings, topics=(topic,)) as sink:
        for key, event in keyed:
            sink.emit(topic, key, event)
        undelivered = sink.close(settings.delivery_timeout_ms / 1000.0)
    if undelivered:
        raise PairflowError(f"{undelivered} {what} were not delivered to {topic} at {settings.bootstrap_servers}")
