"""Compose a running venue: engine + clock + market driver + HTTP/WS server + snapshots.

`VenueService.start` restores the state from ``data_dir`` (or builds a fresh
engine and market), funds the requested accounts, starts the driver loop,
the ASGI server and the periodic snapshots; `VenueService.stop` stops them in
reverse order and saves a final snapshot.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pairflow.clock import WALL_CLOCK, SimulatedClock
from pairflow.config import MetricsSettings, StorageSettings, VenueSettings
from pairflow.errors import ConfigError
from pairflow.logs import get_logger
from pairflow.metrics import VENUE_SIM_TIME_MS, VENUE_SNAPSHOTS, VENUE_SNAPSHOT_SECONDS, serve_metrics, stop_metrics
from pairflow.runtime import tune_gc_for_throughput
from venue.driver_loop import DriverLoop
from venue.engine import Engine
from venue.market.driver import QuotedMarket
from venue.market.factor_model import CointegrationGroup
from venue.market.participants import TakerConfig
from venue.market.quoting import QuoteConfig
from venue.market.recorded import (
    RecordedMarketData,
    load_csv,
    load_directory,
    load_store,
)
from venue.market.replay import ReplayMarket
from venue.market.synthetic import SyntheticMarket, default_groups
from venue.persistence import SnapshotError, SnapshotStore, VenueState
from venue.server.app import create_app
from venue.server.nonces import NonceTracker
from venue.server.serve import BackgroundServer, bind_socket
from venue.universe import Universe, default_universe, load_universe

__all__ = ["VenueOptions", "VenueService", "build_market", "parse_funding"]

_log = get_logger("venue.service")
_STARTUP_TIMEOUT_S = 15.0


def parse_funding(entries: list[str]) -> dict[str, float]:
    """Parse ``0xADDRESS=USDC`` strings into a dict of lowercase address -> amount."""
    funded: dict[str, float] = {}
    for entry in entries:
        address, separator, amount = entry.partition("=")
        address = address.strip().lower()
        if not separator or len(address) != 42 or not address.startswith("0x"):
            raise ConfigError(f"--fund {entry!r} must look like 0x<40 hex digits>=<USDC amount>")
        try:
            int(address[2:], 16)
            value = float(amount)
        except ValueError:
            raise ConfigError(f"--fund {entry!r} must look like 0x<40 hex digits>=<USDC amount>") from None
        if not value > 0:
            raise ConfigError(f"--fund {entry!r}: the USDC amount must be positive, was {amount}")
        funded[address] = funded.get(address, 0.0) + value
    return funded


@dataclass(frozen=True)
class VenueOptions:
    """What `VenueService` runs: the ``venue`` settings plus the context a process puts around them.

    ``VenueOptions(settings.venue, settings.metrics, settings.storage)`` runs a
    venue as the configuration describes it.

    Everything a user chooses lives once, validated, in `VenueSettings` (file,
    ``PAIRFLOW_VENUE__*`` or `pairflow venue serve` options); the market's
    building blocks are derived from it here instead of being mirrored field
    by field.

    Parameters
    ----------
    venue
        The venue section; ``data_dir=None`` keeps all state in memory.
    metrics
        Where the venue serves Prometheus /metrics; port 0 leaves that to the caller.
    storage
        The store ``replay_from="store"`` reads candles and funding from.
    start_ms
        Simulated time of a fresh start; default: ``venue.start``, else the wall clock.
    """

    venue: VenueSettings = field(default_factory=VenueSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    storage: StorageSettings | None = None
    start_ms: int | None = None

    @property
    def fund(self) -> dict[str, float]:
        """Lowercase address -> USDC credited at first sight of the address."""
        return parse_funding([f"{address}={amount}" for address, amount in self.venue.fund.items()])

    @property
    def groups(self) -> tuple[CointegrationGroup, ...] | None:
        """The synthetic market's cointegrated groups; None means the default ones."""
        venue = self.venue
        if venue.groups is None:
            return None
        return tuple(
            CointegrationGroup(tuple(group.coins), tuple(group.betas), venue.half_life_s, venue.spread_std)
            for group in venue.groups
        )

    @property
    def quote(self) -> QuoteConfig:
        """How the market's makers quote."""
        return QuoteConfig(levels=self.venue.book_levels, half_spread_bps=self.venue.half_spread_bps)

    @property
    def takers(self) -> TakerConfig:
        """How often and how large the market's takers trade."""
        return TakerConfig(
            rate_per_minute=self.venue.trade_rate_per_minute, median_notional=self.venue.taker_median_notional
        )


def load_recording(source: str, storage: StorageSettings | None, coins: list[str]) -> RecordedMarketData:
    """Load the replay recording named by `source` (directory, candle CSV, or ``store``)."""
    if source == "store":
        if storage is None:
            raise ConfigError("--replay-from store needs the storage settings")
        from pairflow.storage import connect

        with connect(storage) as store:
            return load_store(store, coins)
    path = Path(source)
    try:
        if path.is_dir():
            return load_directory(path, coins)
        if path.is_file():
            siblings = sorted(path.parent.glob("perp_funding_1h_*.csv"))
            return load_csv(path, siblings[-1] if siblings else None, coins)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    raise ConfigError(f"--replay-from {source!r} is neither a directory, a candle CSV file nor 'store'")


def build_market(options: VenueOptions, universe: Universe, start_ms: int) -> QuotedMarket:
    """Build the market driver the options ask for."""
    if options.venue.market == "synthetic":
        groups = options.groups
        if groups is None:
            groups = default_groups(universe, options.venue.half_life_s, options.venue.spread_std)
        try:
            return SyntheticMarket.build(
                universe,
                seed=options.venue.seed,
                groups=groups,
                market_vol=options.venue.market_vol,
                idio_vol=options.venue.idio_vol,
                quote=options.quote,
                takers=options.takers,
            )
        except ValueError as error:
            raise ConfigError(f"synthetic market: {error}") from None
    if not options.venue.replay_from:
        raise ConfigError("--market replay needs --replay-from (a directory, a candle CSV or 'store')")
    data = load_recording(options.venue.replay_from, options.storage, universe.names)
    try:
        return ReplayMarket.build(
            universe, data, start_ms=start_ms, seed=options.venue.seed, quote=options.quote, takers=options.takers
        )
    except ValueError as error:
        raise ConfigError(f"replay market: {error}") from None


def _universe(path: Path | None) -> Universe:
    if path is None:
        return default_universe()
    try:
        return load_universe(path)
    except ValueError as error:
        raise ConfigError(str(error)) from None


class VenueService:
    """A running venue; `start` it, read `url`, `stop` it (saves a final snapshot).

    Attributes
    ----------
    engine, driver, nonces, loop
        The live components (valid after `start`).
    restored
        Whether `start` continued from a snapshot.
    """

    def __init__(self, options: VenueOptions, universe: Universe | None = None) -> None:
        self.options = options
        if universe is None:
            universe = _universe(options.venue.universe_file)
        self.universe = universe
        self.snapshots = SnapshotStore(options.venue.data_dir) if options.venue.data_dir is not None else None
        self.engine: Any = None
        self.driver: QuotedMarket | None = None
        self.nonces: NonceTracker | None = None
        self.loop: DriverLoop | None = None
        self.restored = False
        self.url = ""
        self.metrics_port: int | None = None
        self._server: BackgroundServer | None = None
        self._stop_snapshots = threading.Event()
        self._snapshot_thread: threading.Thread | None = None

    def start(self) -> str:
        """Restore or build the venue, start every component and return the base URL.

        Also tunes the process's garbage collector for throughput (`tune_gc_for_throughput`),
        as the ingest process does: the engine allocates per order and the default
        young-generation threshold makes the cyclic collector a large share of its time.
        """
        tune_gc_for_throughput()
        if self.snapshots is not None:
            self.snapshots.check_writable()
        engine, driver = self._restore_or_build()
        with engine.lock:
            for address, usdc in self.options.fund.items():
                if not engine.is_user(address):
                    engine.fund(address, usdc)
        driver.attach(engine)
        clock = SimulatedClock(max(self._start_ms(), int(engine.now_ms)), self.options.venue.speed)
        self.loop = DriverLoop(engine, clock, driver, step_ms=self.options.venue.step_ms)
        self.loop.run_due()
        self._start_server()
        self.loop.start()
        if self.snapshots is not None:
            self._snapshot_thread = threading.Thread(
                target=self._snapshot_periodically, name="venue-snapshots", daemon=True
            )
            self._snapshot_thread.start()
        if self.options.metrics.port:
            self.metrics_port = serve_metrics(self.options.metrics.port, self.options.metrics.host)
        return self.url

    def stop(self) -> Path | None:
        """Stop the server, the market and the snapshots; return the final snapshot path if any."""
        if self._server is not None:
            self._server.stop(10.0)
        if self.loop is not None:
            self.loop.stop()
        self._stop_snapshots.set()
        if self._snapshot_thread is not None:
            self._snapshot_thread.join(10.0)
        if self.metrics_port:
            stop_metrics(self.metrics_port)
            self.metrics_port = None
        return self.save_snapshot() if self.snapshots is not None and self.engine is not None else None

    def save_snapshot(self) -> Path:
        """Write an atomic snapshot of engine, nonces and driver now."""
        if self.snapshots is None:
            raise ConfigError("this venue has no data directory to snapshot into")
        started = time.monotonic()
        with self.engine.lock:
            blob = self.snapshots.encode(VenueState(self.engine, self.nonces, self.driver, WALL_CLOCK.now_ms()))
        path = self.snapshots.write(blob)
        VENUE_SNAPSHOTS.inc()
        VENUE_SNAPSHOT_SECONDS.set(time.monotonic() - started)
        return path

    def _start_ms(self) -> int:
        if self.options.start_ms is not None:
            return self.options.start_ms
        start = self.options.venue.start
        return round(start.timestamp() * 1000) if start is not None else WALL_CLOCK.now_ms()

    def _restore_or_build(self) -> tuple[Any, QuotedMarket]:
        state = self.snapshots.load() if self.snapshots is not None else None
        if state is None:
            start_ms = self._start_ms()
            self.driver = build_market(self.options, self.universe, start_ms)
            self.engine = Engine(self.driver.universe.specs, now_ms=start_ms)
            self.nonces = NonceTracker()
        else:
            self.engine, self.driver = state.engine, state.driver
            self.nonces = state.nonces if state.nonces is not None else NonceTracker()
            self.restored = True
            self._check_restored()
            kind = "replay" if isinstance(self.driver, ReplayMarket) else "synthetic"
            if kind != self.options.venue.market:
                _log.warning("continuing the market saved in the snapshot", saved=kind, requested=self.options.venue.market)
        self.universe = self.driver.universe
        return self.engine, self.driver

    def _check_restored(self) -> None:
        """Exercise the restored engine once so a snapshot from an incompatible version fails clearly."""
        try:
            with self.engine.lock:
                self.engine.advance(self.engine.now_ms)
                self.engine.asset_contexts()
        except Exception as error:
            raise SnapshotError(
                f"venue snapshot {self.snapshots.path} does not fit this version of the venue "
                f"({type(error).__name__}: {error}); move it away to start fresh"
            ) from None

    def _start_server(self) -> None:
        every_step = self.options.venue.book_every_step
        app = create_app(self.engine, nonces=self.nonces, books_every_step=every_step)
        if every_step and self.loop is not None:
            self.loop.after_step = app.state.hub.router.on_step
        try:
            sock = bind_socket(self.options.venue.host, self.options.venue.port)
        except OSError as error:
            raise ConfigError(f"venue cannot listen on {self.options.venue.host}:{self.options.venue.port}: {error.strerror}") from None
        self._server = BackgroundServer(app, sock)
        try:
            self._server.start(_STARTUP_TIMEOUT_S)
        except RuntimeError as error:
            raise ConfigError(f"{error}: {error.__cause__!r}") from None
        self.url = f"http://{self.options.venue.host}:{self._server.port}"

    def _snapshot_periodically(self) -> None:
        while not self._stop_snapshots.wait(self.options.venue.snapshot_interval_s):
            try:
                self.save_snapshot()
                VENUE_SIM_TIME_MS.set(self.engine.now_ms)
            except Exception as error:  # a failed periodic save must not stop the venue
                _log.error("venue snapshot failed", error=repr(error), data_dir=str(self.options.venue.data_dir))
