"""Support for tests that make trades on the local venue and collect them.

A venue engine with three assets, a maker resting a large ETH ask and a taker
lifting it (`make_trades`), a `Tape` of every trade the venue published, a
clock the test can step forward, and `RunningCollector`, which runs a
`sources.collector.Collector` on its own event loop thread. tests/integration/conftest.py
serves the engine over HTTP/WebSocket as the ``venue`` fixture.
"""

from __future__ import annotations

import asyncio
import threading

from pairflow.config import CollectorSettings
from sources.collector import Collector
from tests.support.venue import SteppableClock as SteppableClock
from venue.engine import AssetSpec, Channel, Engine, Filled, Limit, OrderRequest, Resting, Tif
from venue.server.wire import market

ASSETS = [AssetSpec("BTC", 5, 40), AssetSpec("ETH", 4, 25), AssetSpec("SOL", 2, 20)]
ORACLES = {"BTC": 60_000.0, "ETH": 2_000.0, "SOL": 150.0}
ETH = 1
MAKER = "0x" + "1" * 40
TAKER = "0x" + "2" * 40
MINUTE_MS = 60_000


def make_engine(now_ms: int) -> Engine:
    """Return an engine over `ASSETS` with `ORACLES` set, starting at ``now_ms``."""
    engine = Engine(ASSETS, now_ms=now_ms)
    for coin, px in ORACLES.items():
        engine.set_oracle(coin, px)
    return engine


def fund_accounts(engine: Engine) -> None:
    """Fund `MAKER` and `TAKER` and rest the maker's 50 ETH ask at 2001."""
    with engine.lock:
        engine.fund(MAKER, 10_000_000)
        engine.fund(TAKER, 10_000_000)
        (status,) = engine.place_orders(
            MAKER, [OrderRequest(ETH, False, "2001", "50", False, Limit(Tif.GTC))]
        )
    assert isinstance(status, Resting), status


def take(engine: Engine, size: str = "0.01") -> None:
    """Lift the resting ETH ask at 2001 with one taker Ioc buy of ``size``."""
    (status,) = engine.place_orders(
        TAKER, [OrderRequest(ETH, True, "2001", size, False, Limit(Tif.IOC))]
    )
    assert isinstance(status, Filled), status


class Tape:
    """Every trade the venue publishes, in order (an engine listener)."""

    def __init__(self, engine: Engine) -> None:
        self.trades: list[dict] = []
        engine.add_listener(
            lambda event: self.trades.extend(map(market.trade, event.data)) if event.channel is Channel.TRADES else None)


def make_trades(engine: Engine, tape: Tape, count: int) -> list[dict]:
    """Make ``count`` taker buys of 0.01 ETH and return the trades as the venue published them."""
    seen = len(tape.trades)
    with engine.lock:
        for _ in range(count):
            take(engine)
    made = tape.trades[seen:]
    assert len(made) == count
    return made


def collector_settings(url: str, **overrides) -> CollectorSettings:
    """Return collector settings for ETH on ``url`` with quick reconnects and no candle backfill."""
    values = {"url": url, "coins": ["ETH"], "backfill_hours": 0, "stale_after_s": 5.0, "ping_interval_s": 1.0,
              "reconnect_backoff_s": 0.1, "reconnect_backoff_max_s": 0.5, "funding_poll_s": 30, "ctx_poll_s": 30}
    return CollectorSettings(**(values | overrides))


def subscribed(collector: Collector, times: int = 1) -> bool:
    """Return True once every subscription was acknowledged ``times`` times (one per connection)."""
    return collector.out.frames_in["subscriptionResponse"] >= times * len(collector.subscriptions)


class RunningCollector:
    """A collector running on its own event loop in a background thread."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self.collector.run(self._stop))
        except BaseException as error:  # noqa: BLE001 - handed to the test
            self.error = error

    def call(self, fn, *args) -> None:
        """Run ``fn(*args)`` on the collector's loop thread."""
        done = threading.Event()

        def run() -> None:
            fn(*args)
            done.set()

        self._loop.call_soon_threadsafe(run)
        assert done.wait(5)

    def stop(self) -> None:
        """Stop the collector, wait for its thread and re-raise what it failed with."""
        if not self.finished:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(15)
        assert self.finished
        self._loop.close()
        if self.error is not None:
            raise self.error
