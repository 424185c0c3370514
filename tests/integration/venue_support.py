"""Support for tests that make trades on the local venue and collect them.

A venue engine with three assets, a maker resting a large ETH ask and a taker
lifting it (`make_trades`), a `Tape` of every trade the venue published, a
clock the test can step forward, and `RunningCollector`, which runs a
`sources.collector.Collector` on its own event loop thread, and `TcpProxy`, which
cuts or freezes the link between them. `serve_venue` serves the engine over
HTTP/WebSocket (tests/integration/conftest.py offers it as the ``venue`` fixture).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pairflow.config import CollectorSettings
from sources.collector import Collector
from tests.helpers import free_port
from tests.support.venue import SteppableClock as SteppableClock
from tests.support.venue import make_engine, run_venue
from venue.engine import Channel, Engine, Filled, Limit, OrderRequest, Resting, Tif
from venue.server.wire import market

ETH = 1
MAKER = "0x" + "1" * 40
TAKER = "0x" + "2" * 40
MINUTE_MS = 60_000


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


@contextmanager
def serve_venue() -> Iterator[tuple[Engine, str, SteppableClock, Tape]]:
    """Yield ``(engine, url, clock, tape)`` of a served venue whose maker rests a 50 ETH ask at 2001."""
    clock = SteppableClock()
    engine = make_engine(clock())
    fund_accounts(engine)
    tape = Tape(engine)
    with run_venue(engine, clock=clock, advance_interval=0.02, push_interval=0.05) as url:
        yield engine, url, clock, tape


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


class TcpProxy:
    """Forward a local port to ``target_port``; cut, freeze and resume the link on demand."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.frozen = False
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Close the listener and every open connection (new connections are refused)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._forward, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._backward, args=(upstream, client), daemon=True).start()

    def _forward(self, client: socket.socket, upstream: socket.socket) -> None:
        """Carry the client's bytes to the venue (a subclass may read the requests on the way)."""
        self._pump(client, upstream)

    def _backward(self, upstream: socket.socket, client: socket.socket) -> None:
        """Carry the venue's bytes to the client (a subclass may read the answers on the way)."""
        self._pump(upstream, client)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self.frozen:
                    target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
