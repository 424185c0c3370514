"""Topic specifications and idempotent topic creation on a Kafka-protocol broker.

Every topic pairflow writes is listed here with the partition count from the
configuration, so the collector, the flows and the operator tooling agree on
one layout. Creation is idempotent: existing topics are left alone, and a
topic whose partition count differs from the configuration is reported, not
altered (repartitioning moves keys between partitions and breaks ordering).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from pairflow.config import BrokerSettings
from pairflow.errors import PairflowError
from pairflow.events import EVENT_OF_TOPIC
from pairflow.logs import get_logger

__all__ = ["TopicSpec", "all_topics", "ensure_topics", "prepare_topics", "topic_specs"]

_log = get_logger(__name__)
_librdkafka_log = logging.getLogger("librdkafka")


@dataclass(frozen=True)
class TopicSpec:
    """How one topic is laid out on the broker."""

    name: str
    partitions: int
    replication_factor: int = 1
    config: dict[str, str] = field(default_factory=dict)


def all_topics() -> tuple[str, ...]:
    """Return every topic name pairflow reads or writes, sorted."""
    return tuple(sorted(EVENT_OF_TOPIC))


def topic_specs(settings: BrokerSettings, names: tuple[str, ...] | None = None) -> list[TopicSpec]:
    """Return specs for ``names`` (default: all topics) with the configured partitions and replication."""
    return [
        TopicSpec(name=name, partitions=settings.partitions, replication_factor=settings.replication_factor)
        for name in (names or all_topics())
    ]


def ensure_topics(admin: AdminClient, specs: list[TopicSpec], timeout_s: float = 10.0) -> list[str]:
    """Create the topics of ``specs`` that do not exist yet and return their names.

    Parameters
    ----------
    admin
        Client bound to the broker.
    specs
        Wanted topics.
    timeout_s
        Bound for the metadata request and for each creation.

    Raises
    ------
    KafkaException
        When the broker cannot be reached or refuses a creation for a reason
        other than "already exists".
    """
    existing = admin.list_topics(timeout=timeout_s).topics
    for spec in specs:
        found = existing.get(spec.name)
        if found is not None and found.error is None and len(found.partitions) != spec.partitions:
            _log.warning(
                "topic partition count differs from configuration",
                topic=spec.name,
                partitions=len(found.partitions),
                configured=spec.partitions,
            )
    missing = [spec for spec in specs if spec.name not in existing or existing[spec.name].error is not None]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                config=dict(spec.config),
            )
            for spec in missing
        ],
        operation_timeout=timeout_s,
        request_timeout=timeout_s,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    if created:
        _log.info("topics created", topics=sorted(created))
    return sorted(created)


def prepare_topics(settings: BrokerSettings, names: tuple[str, ...], timeout_s: float = 10.0) -> list[str]:
    """Create the topics ``names`` a command is about to use on ``settings``' broker (see `ensure_topics`).

    A stage's first contact with the broker is this call, so a broker that is
    down or a bootstrap list that names none must end the command with one
    line, not confluent-kafka's traceback; librdkafka's own connection
    messages go to the log rather than straight to stderr.

    Raises
    ------
    PairflowError
        When the broker cannot be reached or refuses to create a topic.
    """
    try:
        admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers, "logger": _librdkafka_log})
        return ensure_topics(admin, topic_specs(settings, names), timeout_s=timeout_s)
    except KafkaException as error:
        reason = error.args[0].str() if error.args and isinstance(error.args[0], KafkaError) else str(error)
        raise PairflowError(
            f"cannot reach the broker at {settings.bootstrap_servers!r} or create its topics: {reason}"
        ) from None
