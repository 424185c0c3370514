"""The loop that drives the venue's engine and market on a clock.

`DriverLoop` steps the engine (`engine.advance`) and a market driver at a fixed
simulated cadence, each step under ``engine.lock``. Its time comes from a
`pairflow.clock.Clock`: `SimulatedClock` (``speed`` times wall time) in
``venue serve``, `ManualClock` in tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from pairflow.clock import Clock
from pairflow.logs import get_logger
from pairflow.metrics import VENUE_DRIVER_ERRORS, VENUE_DRIVER_STEPS

__all__ = ["DriverLoop", "MarketDriver"]

_log = get_logger("venue.driver_loop")


class MarketDriver(Protocol):
    """What `DriverLoop` steps: a synthetic or replayed market acting on the engine."""

    def attach(self, engine: Any) -> None: ...

    def step(self, engine: Any, now_ms: int) -> None: ...


class DriverLoop:
    """Advance the engine and step the market driver every `step_ms` of simulated time.

    Steps happen at ``first_ms, first_ms + step_ms, ...``; each runs
    ``engine.advance(t)`` then ``driver.step(engine, t)`` under ``engine.lock``.
    When the process falls more than `max_lag_steps` behind the clock (a high
    speed on a slow machine) the loop jumps to the clock instead of replaying
    every missed step; the factor model and replay handle any step length.

    Parameters
    ----------
    engine
        The venue engine.
    clock
        `SimulatedClock` in production, `ManualClock` in tests.
    driver
        Market driver, or None to only advance the engine.
    step_ms
        Simulated cadence in milliseconds.
    max_lag_steps
        Missed steps tolerated before jumping ahead.
    after_step
        Called with the step's time at the end of every step, still under ``engine.lock``: the
        state between two steps, which is what an order arriving then meets (the WebSocket
        router publishes each step's books through it with ``venue.book_every_step``).
    """

    def __init__(
        self,
        engine: Any,
        clock: Clock,
        driver: MarketDriver | None = None,
        *,
        step_ms: int = 250,
        max_lag_steps: int = 40,
        after_step: Callable[[int], None] | None = None,
    ) -> None:
        if step_ms <= 0:
            raise ValueError(f"step_ms must be positive, was {step_ms}")
        self.engine = engine
        self.clock = clock
        self.driver = driver
        self.step_ms = int(step_ms)
        self.max_lag_steps = max_lag_steps
        self.after_step = after_step
        self.next_ms = max(int(clock.now_ms()), int(engine.now_ms))
        self.steps = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step_once(self, now_ms: int) -> None:
        """Run one step at simulated time `now_ms`; a failing step is logged and counted, not raised."""
        with self.engine.lock:
            try:
                self.engine.advance(now_ms)
                if self.driver is not None:
                    self.driver.step(self.engine, now_ms)
                if self.after_step is not None:
                    self.after_step(now_ms)
            except Exception as error:  # one bad step must not stop the market
                self.errors += 1
                VENUE_DRIVER_ERRORS.inc()
                _log.error("venue step failed", sim_ms=now_ms, error=repr(error))
        self.steps += 1
        VENUE_DRIVER_STEPS.inc()

    def run_due(self) -> int:
        """Run every step due up to the clock's current time; return how many ran."""
        now = self.clock.now_ms()
        if (now - self.next_ms) // self.step_ms > self.max_lag_steps:
            self.next_ms = now - now % self.step_ms
        ran = 0
        while self.next_ms <= now:
            self.step_once(self.next_ms)
            self.next_ms += self.step_ms
            ran += 1
        return ran

    def start(self) -> None:
        """Run the loop in a daemon thread until `stop`."""
        if self._thread is not None:
            raise RuntimeError("driver loop already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="venue-driver", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop thread and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            wait = self.clock.wall_seconds_until(self.next_ms)
            self._stop.wait(min(max(wait, 0.001), 0.5))
