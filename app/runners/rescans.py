"""Periodic rescans in embedded mode: the strategy in this process picks up what a new scan accepts.

A running ``pairflow demo`` holds the one process that may open its chDB
directory, so ``pairflow scan`` cannot run beside it. `PeriodicRescan` runs
the scan in a thread of the same process instead, every so often on the
injected clock (the venue's, which may run faster than the wall), and hands
the new scan's accepted spreads to the dataflow as `PairStats` through a
`QueueSource`: the strategy stage routes them exactly as it routes the
records of ``pf.pair_stats`` in broker mode (a new spread is added, one
ADWIN retired is re-admitted).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import msgspec

from app.commands.scan import record_scan, stored_candles
from operators.scan import ScanConfig, ScanResult, build_panel, scan
from pairflow.clock import WALL_CLOCK, Clock
from pairflow.config import Settings
from pairflow.events import TOPIC_OF, PairStats
from pairflow.logs import get_logger
from pairflow.storage import Store
from sources.queue_source import QueueSource
from sources.scan_universe import latest_accepted_spreads

__all__ = ["SCAN_INTERVAL", "PeriodicRescan", "rescan", "scan_stored"]

log = get_logger(__name__)

# Longest wall wait between two looks at the clock: a clock may be sped up or set by hand while waiting.
_MAX_WAIT_S = 0.5
_MIN_WAIT_S = 0.02

# Candles an embedded run scans: what its collector stores, whatever the strategy's bar interval.
SCAN_INTERVAL = "1m"


def scan_stored(store: Store, settings: Settings, clock: Clock = WALL_CLOCK) -> tuple[str, ScanResult] | None:
    """Scan the stored 1m candles of ``collector.coins`` (every coin when empty) and record every verdict.

    The verdicts are stamped with ``clock``'s time (the market's, in a demo).

    Returns the scan id and result, or None when fewer than two coins or too
    few candles are stored to scan.
    """
    panel = build_panel(stored_candles(store, SCAN_INTERVAL, None, None, settings.collector.coins or None))
    config = ScanConfig()
    if len(panel.coins) < 2 or len(panel.times) < config.min_observations:
        return None
    return record_scan(store, settings.storage, scan(panel, config), SCAN_INTERVAL, clock)


def rescan(store: Store, settings: Settings, clock: Clock = WALL_CLOCK) -> list[PairStats]:
    """Scan again (`scan_stored` on ``clock``) and return the new scan's accepted spreads; none with too few candles."""
    return [] if scan_stored(store, settings, clock) is None else latest_accepted_spreads(store, SCAN_INTERVAL)


class PeriodicRescan:
    """Run ``rescan`` every ``every_ms`` of ``clock`` time in a thread and emit the spreads it accepts.

    Parameters
    ----------
    rescan
        Scans the store and returns the new scan's accepted spreads (empty
        when there was too little history to scan). A failing scan is logged
        and the next one is tried on time: the running flow is never stopped by it.
    every_ms
        Clock milliseconds between the end of one scan and the next; must be positive.
    clock
        The clock the market is stamped with; each `PairStats` is restamped
        with its time, so the router places it among the bars of that moment.
    """

    def __init__(self, rescan: Callable[[], list[PairStats]], every_ms: int, clock: Clock = WALL_CLOCK) -> None:
        if every_ms <= 0:
            raise ValueError(f"a rescan period must be positive, received {every_ms} ms")
        self.source = QueueSource()
        self.scans = 0
        self._rescan = rescan
        self._every_ms = every_ms
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pairflow-rescan", daemon=True)

    def start(self) -> None:
        """Start the thread; the first rescan comes one period from now."""
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop rescanning (a scan under way finishes first) and end the source, so the flow can drain."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.source.close()

    def _run(self) -> None:
        clock = self._clock
        due = clock.now_ms() + self._every_ms
        while not self._stop.wait(min(max(clock.wall_seconds_until(due), _MIN_WAIT_S), _MAX_WAIT_S)):
            if clock.now_ms() < due:
                continue
            self._scan_once()
            due = clock.now_ms() + self._every_ms

    def _scan_once(self) -> None:
        try:
            accepted = self._rescan()
        except Exception as error:  # noqa: BLE001 - a bad scan must not stop trading; the next one is tried
            log.warning("rescan failed", error=str(error))
            return
        self.scans += 1
        now = self._clock.now_ms()
        topic = TOPIC_OF[PairStats]
        for stats in accepted:
            self.source.emit(topic, stats.pair, msgspec.structs.replace(stats, ts=now, recv_ts=now))
        log.info("rescan", accepted=len(accepted), scans=self.scans)
