"""One notion of "now" for every room: wall time live, simulated time on the venue, event time in replay.

Nothing else in pairflow reads ``time.time()`` or ``datetime.now()`` for the
time of an event: it asks an injected `Clock`. That is what lets the same flow
run live and as a deterministic replay, and keeps backtests free of
look-ahead: in a replay, "now" is the newest event seen, never the machine's
wall clock. (Monotonic timers for timeouts and pacing are not event time and
stay where they are.)

* `WallClock` -- epoch milliseconds of the machine; ``WALL_CLOCK`` is the one
  instance production code defaults to.
* `SimulatedClock` -- the venue's time: ``speed`` times wall time from a start.
* `ManualClock` -- moves only when told (tests, step-by-step drivers).
* `EventClock` -- moved by the events it observes, never backwards (replay).

Every clock answers `Clock.now_ms`, `Clock.wall_seconds_until` (how long a
loop should sleep before the clock reaches an instant) and `Clock.observe`
(an event with this time was seen; only event-time clocks move on it), so a
flow or driver loop can be handed any of them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["WALL_CLOCK", "Clock", "EventClock", "ManualClock", "SimulatedClock", "WallClock"]


@runtime_checkable
class Clock(Protocol):
    """Source of "now" in integer epoch milliseconds."""

    def now_ms(self) -> int:
        """Return the current time in epoch milliseconds."""
        ...

    def wall_seconds_until(self, at_ms: int) -> float:
        """Return how many wall seconds to wait before this clock reaches `at_ms` (>= 0; inf: never by waiting)."""
        ...

    def observe(self, event_ms: int) -> None:
        """Note that an event stamped `event_ms` was seen; clocks that do not run on event time ignore it."""
        ...


class WallClock:
    """The machine's wall clock in epoch milliseconds.

    Examples
    --------
    >>> clock = WallClock()
    >>> clock.now_ms() > 1_600_000_000_000, clock.wall_seconds_until(0)
    (True, 0.0)
    """

    def now_ms(self) -> int:
        """Return the wall-clock time in epoch milliseconds."""
        return time.time_ns() // 1_000_000

    def wall_seconds_until(self, at_ms: int) -> float:
        """Return the wall seconds left until `at_ms`, 0 when it has passed."""
        return max(0.0, (at_ms - self.now_ms()) / 1000.0)

    def observe(self, event_ms: int) -> None:
        """Ignore events: wall time does not depend on them."""


WALL_CLOCK = WallClock()


class SimulatedClock:
    """Simulated time ``start_ms + speed * (wall seconds since construction)``: the venue's clock.

    Parameters
    ----------
    start_ms
        Simulated time at construction, epoch milliseconds.
    speed
        How many simulated seconds pass per wall second (1.0 = wall time).
    monotonic
        Wall-time source in seconds; injectable so tests need not sleep.

    Examples
    --------
    >>> wall = iter([10.0, 12.0]).__next__
    >>> clock = SimulatedClock(1_000, speed=60.0, monotonic=wall)
    >>> clock.now_ms()
    121000
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

    def wall_seconds_until(self, at_ms: int) -> float:
        """Return how many wall seconds remain until simulated time reaches `at_ms` (>= 0)."""
        return max(0.0, (at_ms - self.now_ms()) / 1000.0 / self.speed)

    def observe(self, event_ms: int) -> None:
        """Ignore events: simulated time runs on the wall."""


class ManualClock:
    """A clock that only moves through `set` and `advance`; for deterministic tests and stepping.

    Examples
    --------
    >>> clock = ManualClock(1_000)
    >>> clock.advance(250)
    1250
    """

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

    def wall_seconds_until(self, at_ms: int) -> float:
        """Return 0: a manual clock never waits on the wall."""
        return 0.0

    def observe(self, event_ms: int) -> None:
        """Ignore events: only `set` and `advance` move this clock."""


class EventClock:
    """Event time for replays: "now" is the newest event time observed, and never goes backwards.

    An out-of-order (older) event leaves the clock where it is, so nothing
    downstream can see time run back. Waiting on the wall never moves it,
    hence `wall_seconds_until` is infinite for any instant not reached yet.
    Safe to share between the threads of one process.

    Parameters
    ----------
    start_ms
        Time before the first event is observed.

    Examples
    --------
    >>> clock = EventClock()
    >>> for ts in (1_000, 3_000, 2_000):
    ...     clock.observe(ts)
    >>> clock.now_ms(), clock.wall_seconds_until(2_500), clock.wall_seconds_until(4_000)
    (3000, 0.0, inf)
    """

    def __init__(self, start_ms: int = 0) -> None:
        self._now_ms = int(start_ms)
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        """Return the newest event time observed (or the start)."""
        return self._now_ms

    def observe(self, event_ms: int) -> None:
        """Move to `event_ms` if it is later than the current time."""
        if event_ms > self._now_ms:
            with self._lock:
                if event_ms > self._now_ms:
                    self._now_ms = int(event_ms)

    def wall_seconds_until(self, at_ms: int) -> float:
        """Return 0 for an instant already reached, else infinity: only events move this clock."""
        return 0.0 if at_ms <= self._now_ms else math.inf
