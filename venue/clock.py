"""Simulated time for the venue and the loop that drives the engine and the market with it.

`SimulatedClock` runs `speed` times faster than wall time from a start instant
(speed 1 = wall time); `ManualClock` only moves when told (tests). `DriverLoop`
steps the engine (`engine.advance`) and a market driver at a fixed simulated
cadence, each step under ``engine.lock``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from pairflow.logs import get_logger
from pairflow.metrics import counter

__all__ = ["Clock", "DriverLoop", "ManualClock", "MarketDriver", "SimulatedClock", "wall_ms"]

_log = get_logger("venue.clock")
_STEPS = counter("pairflow_venue_driver_steps", "Market-driver steps run by the venue.")
_STEP_ERRORS = counter("pairflow_venue_driver_errors", "Market-driver steps that raised and were skipped.")


def wall_ms() -> int:
    """Return the wall-clock time in integer milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


class Clock(Protocol):
    """Source of simulated time in epoch milliseconds."""

    speed: float

    def now_ms(self) -> int: ...

    def wall_seconds_until(self, sim_ms: int) -> float: ...


class MarketDriver(Protocol):
    """What `DriverLoop` steps: a synthetic or replayed market acting on the engine."""

    def attach(self, engine: Any) -> None: ...

    def step(self, engine: Any, now_ms: int) -> None: ...


class SimulatedClock:
    """Simulated time ``start_ms + speed * (wall elapsed since construction)``.

    Parameters
    ----------
    start_ms
        Simulated time at construction, epoch milliseconds.
    speed
        How many simulated seconds pass per wall second (1.0 = wall time).
    monotonic
        Wall-time source in seconds; injectable for tests.
    """

    def __init__(self, start_ms: int, speed: float = 1.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, was {speed}")
        self.start_ms = int(start_ms)
        self.speed = float(speed)
        self._monotonic = monotonic
        self._wall_start = monotonic()

    def now_ms(self) -> int:
        """Return the current simulated time in epoch milliseconds."""
        return self.start_ms + int((self._monotonic() - self._wall_start) * 1000.0 * self.speed)

    def wall_seconds_until(self, sim_ms: int) -> float:
        """Return how many wall seconds remain until simulated time reaches `sim_ms` (>= 0)."""
        return max(0.0, (sim_ms - self.now_ms()) / 1000.0 / self.speed)


class ManualClock:
    """Clock that only moves through `set` and `advance`; for deterministic tests."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now_ms = int(start_ms)
        self.speed = 1.0

    def now_ms(self) -> int:
        """Return the current time."""
        return self._now_ms

    def advance(self, delta_ms: int) -> int:
        """Move time forward by `delta_ms` and return the new time."""
        if delta_ms < 0:
            raise ValueError(f"a clock cannot move backwards, delta was {delta_ms} ms")
        self._now_ms += int(delta_ms)
        return self._now_ms

    def set(self, now_ms: int) -> None:
        """Jump to `now_ms` (not before the current time)."""
        self.advance(int(now_ms) - self._now_ms)

    def wall_seconds_until(self, sim_ms: int) -> float:
        """Return 0: a manual clock never waits on the wall."""
        return 0.0


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
    """

    def __init__(
        self,
        engine: Any,
        clock: Clock,
        driver: MarketDriver | None = None,
        *,
        step_ms: int = 250,
        max_lag_steps: int = 40,
    ) -> None:
        if step_ms <= 0:
            raise ValueError(f"step_ms must be positive, was {step_ms}")
        self.engine = engine
        self.clock = clock
        self.driver = driver
        self.step_ms = int(step_ms)
        self.max_lag_steps = max_lag_steps
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
            except Exception as error:  # one bad step must not stop the market
                self.errors += 1
                _STEP_ERRORS.inc()
                _log.error("venue step failed", sim_ms=now_ms, error=repr(error))
        self.steps += 1
        _STEPS.inc()

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
