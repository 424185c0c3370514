"""Embedded ingestion: the collector feeds the ingest flow in-process, no broker.

The collector runs on its own asyncio loop in a thread and pushes events into
a `QueueSource`; the Bytewax flow drains it. Stopping the collector closes the
queue, so the flow sees end-of-input, flushes its sinks and returns: what was
collected is stored before the flow ends.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bytewax.recovery import RecoveryConfig
from bytewax.run import cli_main

from flows.ingest import IngestStreams, ingest_dataflow
from pairflow.config import CollectorSettings, Settings
from pairflow.errors import PairflowError
from pairflow.logs import get_logger
from sources.collector import Collector
from sources.queue_source import QueueSource

__all__ = ["CollectorThread", "EmbeddedIngest"]

log = get_logger(__name__)


class CollectorThread:
    """A collector on its own event loop and thread, emitting into ``self.source``.

    Parameters
    ----------
    settings
        Upstream URL, coins and polling cadences.
    """

    def __init__(self, settings: CollectorSettings) -> None:
        self.source = QueueSource()
        self.collector = Collector(self.source.emit, settings)
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._failures: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name="pairflow-collector", daemon=True)

    def start(self) -> None:
        """Start collecting."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the collector to stop and wait for it; the source then reaches end-of-input."""
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def failure(self) -> BaseException | None:
        """Return the error that stopped the collector, if any."""
        return self._failures[0] if self._failures else None

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self.collector.run(self._stop))
        except Exception as error:  # noqa: BLE001 - surfaced by failure() after the flow drained the queue
            self._failures.append(error)
        finally:
            self.source.close()


class EmbeddedIngest:
    """Collector plus a single-worker ingest flow, both in background threads.

    Parameters
    ----------
    settings
        ``collector`` (upstream URL, coins), ``storage`` (where rows go).
        The schema must already exist.
    dead_letter_dir
        Where rejected records are written as JSON lines.
    epoch
        Bytewax epoch length: how often the store sink flushes.
    recovery
        Optional Bytewax recovery configuration.
    then
        Chains further stages (e.g. `flows.strategy.chain_strategy`) onto the
        ingest streams, in the same dataflow.
    """

    def __init__(
        self,
        settings: Settings,
        dead_letter_dir: Path,
        epoch: timedelta = timedelta(seconds=1),
        recovery: RecoveryConfig | None = None,
        then: Callable[[IngestStreams], None] | None = None,
    ) -> None:
        self.collecting = CollectorThread(settings.collector)
        self._flow = ingest_dataflow(settings, self.collecting.source, dead_letter_dir, then=then)
        self._epoch = epoch
        self._recovery = recovery
        self._flow_failures: list[BaseException] = []
        self._flow_thread = threading.Thread(target=self._ingest, name="pairflow-ingest", daemon=True)

    def start(self) -> None:
        """Start collecting and ingesting."""
        self.collecting.start()
        self._flow_thread.start()
        log.info("embedded ingest started", coins=self.collecting.collector.coins or "top by volume")

    def failure(self) -> BaseException | None:
        """Return the first error that stopped the collector or the flow, if any."""
        return self._flow_failures[0] if self._flow_failures else self.collecting.failure()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop collecting, let the flow store what it has, and wait for both threads.

        Raises
        ------
        PairflowError
            When the collector or the flow had failed.
        """
        self.collecting.stop(timeout)
        self._flow_thread.join(timeout)
        failure = self.failure()
        if failure is not None:
            raise PairflowError(f"embedded ingest stopped: {failure}")

    def _ingest(self) -> None:
        try:
            cli_main(self._flow, workers_per_process=1, epoch_interval=self._epoch, recovery_config=self._recovery)
        except Exception as error:  # noqa: BLE001 - surfaced by failure()/stop()
            self._flow_failures.append(error)
            self.collecting.stop(timeout=0)
