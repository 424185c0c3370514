"""Clock ticks carried in the stream, so per-key state moves on event time without reading a clock.

A keyed stateful step sees only its own key's items. To close the bars of a
coin that stopped trading it needs "now", and reading a shared clock from
there would make the result depend on thread scheduling. Instead a `Ticker`
step appends a `ClockTick` to the batches of every key it has seen, at most
once per ``every_ms`` of clock time. The tick's time is event time, not the
clock's: the oldest of the newest event times of the keys still arriving
(those with an event in the last ``stall_ms`` of clock time). While a backlog
is read (after a restart or downtime) one partition can be read ahead of
another; a coin whose partition is behind must not look quiet just because
wall time went by or another partition is ahead, so the tick time waits for
the slowest key still being read, and the bars are the same however fast, in
what batches and in what interleaving of partitions the backlog is read, as
long as no partition goes unread for ``stall_ms`` of clock time. A key that
sent nothing for that long is quiet and no longer holds the tick time back.
Only when no key arrives at all does the tick time run on with the clock from
the newest event, so a live market that stops trading still closes its bars.
In a replay the clock is itself event time and stands still while no input
arrives.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pairflow.clock import Clock

__all__ = ["ClockTick", "Ticker"]


class ClockTick(msgspec.Struct, frozen=True, gc=False):
    """Event time ``ms`` (epoch milliseconds) when this tick was added, and the clock's reading ``clock_ms`` then."""

    ms: int
    clock_ms: int


class Ticker:
    """Append a `ClockTick` to the ``(key, [item, ...])`` batches of every key seen so far.

    Parameters
    ----------
    clock
        Paces the ticks, and moves the tick time on once the feed stalls.
    every_ms
        Least clock time between two ticks.
    follows
        Items of this type carry the event time (``ts``) the ticks follow;
        no tick is sent before the first of them.
    stall_ms
        Clock time without such an item after which a key is quiet, and,
        once every key is, the tick time runs on with the clock.

    Examples
    --------
    >>> from pairflow.clock import ManualClock
    >>> from pairflow.events import Trade
    >>> def trade(coin, ts):
    ...     return Trade(id=f"{coin}{ts}", coin=coin, ts=ts, px=1.0, sz=1.0, side="B")
    >>> clock = ManualClock(9_000)
    >>> ticker = Ticker(clock, every_ms=500, follows=Trade, stall_ms=2_000)
    >>> [(key, [type(item).__name__ for item in items]) for key, items in ticker([("BTC", [trade("BTC", 1_000)])])]
    [('BTC', ['Trade', 'ClockTick'])]
    >>> clock.advance(100)
    9100
    >>> [type(item).__name__ for item in ticker([("ETH", [trade("ETH", 1_200)])])[0][1]]  # not due yet
    ['Trade']
    >>> clock.advance(400)
    9500
    >>> [(key, items[-1]) for key, items in ticker([("ETH", [trade("ETH", 1_300)])])]
    [('ETH', ClockTick(ms=1000, clock_ms=9500)), ('BTC', ClockTick(ms=1000, clock_ms=9500))]

    BTC's partition, still being read, holds the tick time back; once it sent
    nothing for ``stall_ms`` it is quiet, and once every key is, the tick time
    runs on with the clock from the newest trade:

    >>> clock.advance(1_600)
    11100
    >>> ticker([("ETH", [trade("ETH", 4_000)])])[0][1][-1]
    ClockTick(ms=4000, clock_ms=11100)
    >>> clock.advance(2_500)
    13600
    >>> ticker([("BTC", ["a book"])])[0][1][-1]
    ClockTick(ms=6500, clock_ms=13600)
    """

    def __init__(self, clock: Clock, every_ms: int, follows: type, stall_ms: int) -> None:
        if every_ms <= 0:
            raise ValueError(f"every_ms must be positive, was {every_ms}")
        self.clock = clock
        self.every_ms = int(every_ms)
        self.follows = follows
        self.stall_ms = int(stall_ms)
        self._keys: dict[str, None] = {}
        self._last_ms: int | None = None
        # key -> [newest event time of the key, clock time its last event arrived]
        self._arrivals: dict[str, list[int]] = {}

    def __call__(self, groups: list[tuple[str, list[Any]]]) -> list[tuple[str, list[Any]]]:
        """Return ``groups`` with a tick appended for every known key when one is due."""
        keys = self._keys
        follows = self.follows
        arrivals = self._arrivals
        now = self.clock.now_ms()
        for key, items in groups:
            if key not in keys:
                keys[key] = None
            for item in items:
                if type(item) is follows:
                    arrival = arrivals.get(key)
                    if arrival is None:
                        arrivals[key] = [item.ts, now]
                    else:
                        arrival[1] = now
                        if item.ts > arrival[0]:
                            arrival[0] = item.ts
        if not arrivals or (self._last_ms is not None and now - self._last_ms < self.every_ms):
            return groups
        self._last_ms = now
        since = now - self.stall_ms
        arriving = [newest for newest, at in arrivals.values() if at > since]
        if arriving:
            tick = ClockTick(min(arriving), now)
        else:
            newest, at = max(arrivals.values())
            tick = ClockTick(newest + now - at, now)
        present = {}
        for key, items in groups:
            if key not in present:
                items.append(tick)
                present[key] = None
        groups.extend((key, [tick]) for key in keys if key not in present)
        return groups
