"""Clock ticks carried in the stream, so per-key state moves on the injected clock without reading it.

A keyed stateful step sees only its own key's items. To close the bars of a
coin that stopped trading it needs "now", and reading a shared clock from
there would make the result depend on thread scheduling. Instead a `Ticker`
step appends a `ClockTick` with the clock's time to the batches of every key
it has seen, at most once per ``every_ms`` of clock time. The ticks then reach
each key in a fixed position among its own events: live (wall clock) they
fire every ``every_ms`` of wall time while data flows; in a replay (event-time
clock) they follow the recorded events, so the outcome is the same however
fast or unevenly the replay runs.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pairflow.clock import Clock

__all__ = ["ClockTick", "Ticker"]


class ClockTick(msgspec.Struct, frozen=True, gc=False):
    """The injected clock read ``ms`` (epoch milliseconds) when this tick was added."""

    ms: int


class Ticker:
    """Append a `ClockTick` to the ``(key, [item, ...])`` batches of every key seen so far.

    Parameters
    ----------
    clock
        Where the tick time comes from.
    every_ms
        Least clock time between two ticks.

    Examples
    --------
    >>> from pairflow.clock import ManualClock
    >>> clock = ManualClock(1_000)
    >>> ticker = Ticker(clock, every_ms=500)
    >>> ticker([("BTC", ["t1"])])
    [('BTC', ['t1', ClockTick(ms=1000)])]
    >>> clock.advance(100)
    1100
    >>> ticker([("ETH", ["t2"])])
    [('ETH', ['t2'])]
    >>> clock.advance(400)
    1500
    >>> ticker([("ETH", ["t3"])])
    [('ETH', ['t3', ClockTick(ms=1500)]), ('BTC', [ClockTick(ms=1500)])]
    """

    def __init__(self, clock: Clock, every_ms: int) -> None:
        if every_ms <= 0:
            raise ValueError(f"every_ms must be positive, was {every_ms}")
        self.clock = clock
        self.every_ms = int(every_ms)
        self._keys: dict[str, None] = {}
        self._last_ms: int | None = None

    def __call__(self, groups: list[tuple[str, list[Any]]]) -> list[tuple[str, list[Any]]]:
        """Return ``groups`` with a tick appended for every known key when one is due."""
        keys = self._keys
        for key, _ in groups:
            if key not in keys:
                keys[key] = None
        now = self.clock.now_ms()
        if self._last_ms is not None and now - self._last_ms < self.every_ms:
            return groups
        self._last_ms = now
        tick = ClockTick(now)
        present = {}
        for key, items in groups:
            if key not in present:
                items.append(tick)
                present[key] = None
        groups.extend((key, [tick]) for key in keys if key not in present)
        return groups
