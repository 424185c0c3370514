"""Embedded ingestion: the collector feeds the ingest flow in-process, no broker.

The collector runs on its own asyncio loop in a thread and pushes events into
a `QueueSource` (in memory) or a `sources.journal.Journal` (on disk, durable
across a kill); the Bytewax flow drains it. Stopping the collector closes the
source, so the flow sees end-of-input, flushes its sinks and returns: what was
collected is stored before the flow ends. A collector starts from where the
store and the journal end (`resume_point`), so the time it was not running
is accounted for as a gap, and a flow without recovered state first rebuilds
the bars still open at the last stored trade from the stored trades, so the
bar open at a kill is not stored complete with only the trades after it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig
from bytewax.run import cli_main

from flows.ingest import IngestRun, IngestStreams, Seeds, ingest_dataflow, ingest_options
from pairflow.clock import WALL_CLOCK, Clock
from pairflow.config import CollectorSettings, Settings
from pairflow.errors import PairflowError
from pairflow.logs import get_logger
from pairflow.storage import connect
from sources.collector import Collector
from sources.gaps import LastTrade, newest
from sources.journal import Journal
from sources.queue_source import QueueSource
from sources.resume import last_stored_trades, stored_trades_since

if TYPE_CHECKING:  # the scan behind it imports statsmodels and scipy, which ingest alone never runs
    from app.runners.rescans import PeriodicRescan

__all__ = ["CollectorThread", "EmbeddedIngest", "ResumePoint", "collecting_flow", "resume_point"]

log = get_logger(__name__)


@dataclass(frozen=True)
class ResumePoint:
    """Where an embedded ingest picks up, read from the store (and journal) before it starts.

    Attributes
    ----------
    last
        The newest trades per coin already delivered: the collector resumes after them.
    seeds
        Per coin, the stored trades of the bars that may still have been open
        at the last stored trade: the flow folds them in first (`flows.ingest.ingest_stage`).
    """

    last: dict[str, LastTrade]
    seeds: Seeds


def resume_point(settings: Settings, journal: Journal | None = None) -> ResumePoint:
    """Return where the configured coins pick up, from the store (and ``journal``)."""
    coins = settings.collector.coins
    options = ingest_options(settings)
    with connect(settings.storage) as store:
        stored = last_stored_trades(store, coins)
        seeds = stored_trades_since(store, {coin: options.open_since(last.ts) for coin, last in stored.items()})
    return ResumePoint(newest(stored, journal.last_trades(coins)) if journal is not None else stored, seeds)


class CollectorThread:
    """A collector on its own event loop and thread, emitting into ``self.source``.

    Parameters
    ----------
    settings
        Upstream URL, coins and polling cadences.
    source
        Where events go: a `Journal`, or by default a new in-memory `QueueSource`.
    resume
        The last trades per coin already delivered (see `sources.collector.Collector`).
    clock
        The clock the upstream stamps events with (receive times and lag).
    """

    def __init__(
        self,
        settings: CollectorSettings,
        source: QueueSource | Journal | None = None,
        resume: Mapping[str, LastTrade] | None = None,
        clock: Clock = WALL_CLOCK,
    ) -> None:
        self.source = source if source is not None else QueueSource(report_progress=True)
        self.collector = Collector(self.source.emit, settings, resume=resume, clock=clock.now_ms)
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


def collecting_flow(
    settings: Settings,
    dead_letter_dir: Path,
    *,
    journal: Journal | None = None,
    workers: int = 1,
    clock: Clock = WALL_CLOCK,
    then: Callable[[IngestStreams], None] | None = None,
) -> tuple[CollectorThread, Dataflow]:
    """Return a collector and the ingest flow it feeds, both picking up at `resume_point`.

    The one place every embedded entry point (`pairflow ingest --embedded`,
    `EmbeddedIngest` behind ``demo`` and ``trade``) builds them, so the
    collector's resume and the flow's seeds always come from the same read.
    """
    start = resume_point(settings, journal)
    collecting = CollectorThread(settings.collector, journal, start.last, clock=clock)
    flow = ingest_dataflow(settings, collecting.source, dead_letter_dir, workers=workers,
                           run=IngestRun(clock=clock, seeds=start.seeds, then=then))
    return collecting, flow


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
    clock
        The clock the upstream stamps events with: the venue's when it runs in
        this process, so lag and idle bars follow its (possibly faster) time.
    rescans
        Periodic rescans whose source ``then`` wired in: started and stopped
        with the collector, so the flow reaches its end once both are done.
    """

    def __init__(
        self,
        settings: Settings,
        dead_letter_dir: Path,
        epoch: timedelta = timedelta(seconds=1),
        recovery: RecoveryConfig | None = None,
        then: Callable[[IngestStreams], None] | None = None,
        clock: Clock = WALL_CLOCK,
        rescans: PeriodicRescan | None = None,
    ) -> None:
        self.rescans = rescans
        self.collecting, self._flow = collecting_flow(settings, dead_letter_dir, clock=clock, then=then)
        self._epoch = epoch
        self._recovery = recovery
        self._flow_failures: list[BaseException] = []
        self._flow_thread = threading.Thread(target=self._ingest, name="pairflow-ingest", daemon=True)

    def start(self) -> None:
        """Start collecting and ingesting."""
        self.collecting.start()
        self._flow_thread.start()
        if self.rescans is not None:
            self.rescans.start()
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
        if self.rescans is not None:
            self.rescans.stop(timeout)
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
