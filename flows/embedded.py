"""Embedded ingestion: the collector feeds the ingest flow in-process, no broker.

The collector runs on its own asyncio loop in one thread and pushes events
into a `QueueSource`; the Bytewax flow runs in another thread and drains it.
Stopping closes the queue, so the flow sees end-of-input, flushes its sinks
and returns — what was collected is stored before `stop` returns.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path

from bytewax.recovery import RecoveryConfig
from bytewax.testing import run_main

from flows.ingest import IngestOptions, build_ingest_flow
from pairflow.config import Settings
from pairflow.errors import PairflowError
from pairflow.logs import get_logger
from sinks.clickhouse import ClickHouseSink
from sinks.dead_letter import DeadLetterSink
from sources.collector import Collector
from sources.queue_source import QueueSource

__all__ = ["EmbeddedIngest"]

log = get_logger(__name__)


class EmbeddedIngest:
    """Collector plus ingest flow in this process.

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
    """

    def __init__(
        self,
        settings: Settings,
        dead_letter_dir: Path,
        epoch: timedelta = timedelta(seconds=1),
        recovery: RecoveryConfig | None = None,
    ) -> None:
        self.source = QueueSource()
        self.collector = Collector(self.source.emit, settings.collector)
        self._flow = build_ingest_flow(
            self.source,
            ClickHouseSink(settings.storage),
            DeadLetterSink(dead_letter_dir),
            IngestOptions(book_depth=settings.collector.book_levels),
        )
        self._epoch = epoch
        self._recovery = recovery
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._failures: list[BaseException] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start collecting and ingesting in background threads."""
        self._threads = [
            threading.Thread(target=self._collect, name="pairflow-collector", daemon=True),
            threading.Thread(target=self._ingest, name="pairflow-ingest", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.info("embedded ingest started", coins=self.collector.coins or "top by volume")

    def failure(self) -> BaseException | None:
        """Return the first error that stopped the collector or the flow, if any."""
        return self._failures[0] if self._failures else None

    def stop(self, timeout: float = 30.0) -> None:
        """Stop collecting, let the flow store what it has, and wait for both threads.

        Raises
        ------
        PairflowError
            When the collector or the flow had failed.
        """
        self._loop.call_soon_threadsafe(self._stop.set)
        for thread in self._threads:
            thread.join(timeout)
        if self._failures:
            raise PairflowError(f"embedded ingest stopped: {self._failures[0]}")

    def _collect(self) -> None:
        try:
            self._loop.run_until_complete(self.collector.run(self._stop))
        except Exception as error:  # noqa: BLE001 - surfaced by failure()/stop() after the flow drained
            self._failures.append(error)
        finally:
            self.source.close()

    def _ingest(self) -> None:
        try:
            run_main(self._flow, epoch_interval=self._epoch, recovery_config=self._recovery)
        except Exception as error:  # noqa: BLE001 - surfaced by failure()/stop()
            self._failures.append(error)
            self._loop.call_soon_threadsafe(self._stop.set)
