"""Clock ticks carried in the stream, so per-key state moves on event time without reading a clock.

A keyed stateful step sees only its own key's items. To close the bars of a
coin that stopped trading it needs "now", and reading a shared clock from
there would make the result depend on thread scheduling. Instead a `Ticker`
step appends a `ClockTick` to the batches of every key whose events it reads,
at most once per ``every_ms`` of clock time. The tick's time is event time,
not the clock's: the oldest of the newest event times of those keys. A key's
own items and its ticks leave the same worker in order, so a coin never sees
a tick from a worker that reads another partition (in a cluster that one may
run minutes ahead), and the tick never passes the time its own partition
has reached.

While a backlog is read (after a restart, downtime, or a cluster member
starved of CPU) one partition can be read ahead of another, or stall for
seconds; a coin must not look quiet just because wall time went by or
another partition is ahead. So while any partition this worker reads has
records waiting (its reader's `sources.progress.ReadProgress`), every key
holds the tick time back and nothing follows the clock: the bars depend on the
input alone, however fast, in what batches and in what interleaving of
partitions it is read. Only once every partition is at the end of its log
(live, or a reader that does not report progress) does the clock decide: a key
that sent nothing for ``stall_ms`` is quiet and no longer holds the tick time
back, and when no key arrives at all the tick time runs on with the clock from
the newest event, so a live market that stops trading still closes its bars.
Such ticks are marked ``live``. In a replay the clock is itself event time and
stands still while no input arrives.
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec

from pairflow.clock import Clock
from sources.progress import PROGRESS_KEY

__all__ = ["ClockTick", "Ticker"]


class ClockTick(msgspec.Struct, frozen=True, gc=False, repr_omit_defaults=True):
    """Event time ``ms`` (epoch milliseconds) when this tick was added, and the clock's reading ``clock_ms`` then.

    ``live``: every partition the tick's worker reads was at the end of its
    log, so the clock may move the time on while no tick comes; False while a
    backlog is read, when silence only means the reader is behind.
    """

    ms: int
    clock_ms: int
    live: bool = True


class _Reading:
    """One worker's view of its input."""

    def __init__(self) -> None:
        self.last_ms: int | None = None
        self.live = True
        # key -> [newest event time of the key, clock time its last event arrived]
        self.arrivals: dict[str, list[int]] = {}
        # (topic, partition) of the partitions with records waiting
        self.behind: set[tuple[str, int | None]] = set()


class Ticker:
    """Append a `ClockTick` to the ``(key, [item, ...])`` batches of every key whose events this worker reads.

    Parameters
    ----------
    clock
        Paces the ticks, and moves the tick time on once the feed stalls at the end of its log.
    every_ms
        Least clock time between two ticks (a worker reaching or leaving the end of its log ticks at once).
    follows
        Items of this type carry the event time (``ts``) the ticks follow;
        only keys with such items get ticks, none before the first of them.
    stall_ms
        At the end of the log, clock time without such an item after which a
        key is quiet, and, once every key is, the tick time runs on with the clock.

    Examples
    --------
    >>> from pairflow.clock import ManualClock
    >>> from pairflow.events import Trade
    >>> from sources.progress import ReadProgress
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

    BTC, still being read, holds the tick time back; once it sent nothing for
    ``stall_ms`` it is quiet, and once every key is, the tick time runs on
    with the clock from the newest trade:

    >>> clock.advance(1_600)
    11100
    >>> ticker([("ETH", [trade("ETH", 4_000)])])[0][1][-1]
    ClockTick(ms=4000, clock_ms=11100)
    >>> clock.advance(2_500)
    13600
    >>> ticker([("BTC", ["a book"])])[0][1][-1]
    ClockTick(ms=6500, clock_ms=13600)

    But while a partition has records waiting, silence is a slow reader, not
    a quiet market: every key holds the tick time back and the clock moves
    nothing, however long the wait:

    >>> ticker([("read-progress", [ReadProgress("md.trades", 0, at_end=False)])])[0][1][-1]
    ClockTick(ms=1000, clock_ms=13600, live=False)
    >>> clock.advance(60_000)
    73600
    >>> ticker([("ETH", [trade("ETH", 4_100)])])[0][1][-1]
    ClockTick(ms=1000, clock_ms=73600, live=False)
    """

    def __init__(self, clock: Clock, every_ms: int, follows: type, stall_ms: int) -> None:
        if every_ms <= 0:
            raise ValueError(f"every_ms must be positive, was {every_ms}")
        self.clock = clock
        self.every_ms = int(every_ms)
        self.follows = follows
        self.stall_ms = int(stall_ms)
        # The workers of a process share this callable, each calling from its own thread. Keyed by thread id:
        # a threading.local is emptied between two calls from a thread Bytewax started itself.
        self._readings: dict[int, _Reading] = {}

    def __call__(self, groups: list[tuple[str, list[Any]]]) -> list[tuple[str, list[Any]]]:
        """Return ``groups`` with a tick appended for every key read when one is due; take out read progress."""
        reading = self._readings.get(threading.get_ident())
        if reading is None:
            reading = self._readings[threading.get_ident()] = _Reading()
        follows = self.follows
        arrivals = reading.arrivals
        now = self.clock.now_ms()
        progress = None
        for index, (key, items) in enumerate(groups):
            if key == PROGRESS_KEY:
                progress = index
                behind = reading.behind
                for mark in items:
                    (behind.discard if mark.at_end else behind.add)((mark.topic, mark.partition))
                continue
            newest = max([item.ts for item in items if type(item) is follows], default=None)
            if newest is not None:
                arrival = arrivals.get(key)
                if arrival is None:
                    arrivals[key] = [newest, now]
                else:
                    arrival[1] = now
                    if newest > arrival[0]:
                        arrival[0] = newest
        if progress is not None:
            del groups[progress]
        live = not reading.behind
        if not arrivals or (
            live is reading.live and reading.last_ms is not None and now - reading.last_ms < self.every_ms
        ):
            return groups
        reading.last_ms = now
        reading.live = live
        if live:
            since = now - self.stall_ms
            arriving = [newest for newest, at in arrivals.values() if at > since]
        else:
            arriving = [newest for newest, _ in arrivals.values()]
        if arriving:
            tick = ClockTick(min(arriving), now, live)
        else:
            newest, at = max(arrivals.values())
            tick = ClockTick(newest + now - at, now)
        present = {}
        for key, items in groups:
            if key in arrivals and key not in present:
                items.append(tick)
                present[key] = None
        groups.extend((key, [tick]) for key in arrivals if key not in present)
        return groups
