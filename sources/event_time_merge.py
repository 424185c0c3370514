"""Merge the records of several topic partitions into one event-time order.

Partitions read at their own pace: on a backlog one consumer's first fetch can
land long before another's, and reading each partition as it comes puts one
coin hundreds of bars ahead of the other. A spread would then see its early
leg alone, and the signals would depend on how the fetches happened to
interleave -- a killed and resumed run would not repeat an uninterrupted one,
nor a 2-process cluster a single process.

`EventTimeMerge` buffers each partition's records and releases the oldest
candidate (by event time, ties in partition order, then offset) only while
every partition either has a full window of records buffered or has reported
reaching its end of log. A partition still being fetched therefore holds the
others back, so on a backlog the output is a function of the partitions'
contents alone, whatever the fetch timing; live, a partition at its end does
not hold anyone.

A partition need not be in event-time order: one holds several coins (topics
are keyed by coin), which a producer may write in runs of one coin after
another (a batching sink, or several producers), and it holds corrections
and bars of other intervals behind newer bars. Each partition's candidates
are its ``window`` oldest unreleased records by offset, and the oldest of
them by event time goes first: records out of order by fewer than
``window`` positions come out in event-time order. A record further out of
order than that is not dropped: it goes out when it enters the window, as
the next of its partition, and the consumer judges it (a spread refuses a
bar older than its row as out-of-order, counted by reason). With
``window=1`` it is the plain k-way merge of partition heads. Either way the
output depends only on what each partition holds in offset order.

Two bounds keep it from stalling: a partition holding the others back for
longer than ``patience_s`` without delivering (unreachable) stops holding
them, and a partition whose buffer reaches ``cap`` records asks to be paused
until it drains (`paused`), so memory stays bounded. Records without an event
time (undecodable, or stamped where the decoder refuses them) sort before
every other candidate, for the decoder downstream to refuse.

Because records leave a window out of offset order, a resume point is the
first offset not released plus the offsets after it already released
(`resume_offsets`, `released_ahead`): a merge built with those ``released``
skips them when they are read again, and continues exactly as the
uninterrupted one.

It is IO-free: the reader feeds it records, end-of-log marks and the time.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["EventTimeMerge"]

_NO_TIME = float("-inf")


class EventTimeMerge:
    """Event-time k-way merge of partition windows, the slowest open partition holding the others.

    Parameters
    ----------
    keys
        The partitions, in tie-break order.
    cap
        Buffered records per partition at which it should be paused; not less
        than ``window`` (``2 * window`` lets a partition keep releasing while its
        next fetch is on the way).
    patience_s
        Seconds a partition may hold the others back (its window not full, end
        of log not reported) before it is passed over.
    window
        Unreleased records of a partition, by offset, among which the oldest
        by event time goes first (1: each partition in its own order).
    starts
        The offset each partition is read from (a resumed merge's
        `resume_offsets`); unknown partitions report None until read.
    released
        Offsets of each partition already released from its start on (a
        resumed merge's `released_ahead`): skipped when read again.

    Examples
    --------
    >>> merge = EventTimeMerge(["a", "b"])
    >>> merge.add("a", 0, 2_000, "a2"), merge.add("a", 1, 3_000, "a3")
    (None, None)
    >>> merge.release(now=0.0)  # b not fetched yet: a waits
    []
    >>> merge.add("b", 0, 1_000, "b1")
    >>> merge.release(now=0.1)  # b has nothing after b1 yet: a2 waits again
    ['b1']
    >>> merge.at_end("b")
    >>> merge.release(now=0.2), merge.resume_offsets()
    (['a2', 'a3'], {'a': 2, 'b': 1})

    With a window of two, a partition's records one place out of order are put back in order:

    >>> merge = EventTimeMerge(["a"], window=2)
    >>> for offset, ts in enumerate([5, 9, 7]):
    ...     merge.add("a", offset, ts, f"a{ts}")
    >>> merge.release(now=0.0), merge.resume_offsets(), merge.released_ahead()
    (['a5', 'a7'], {'a': 1}, {'a': (2,)})
    >>> merge.at_end("a")
    >>> merge.release(now=0.0)
    ['a9']
    """

    def __init__(
        self, keys: Sequence[Hashable], cap: int = 1_000, patience_s: float = 30.0, window: int = 1,
        starts: Mapping[Hashable, int] | None = None, released: Mapping[Hashable, Iterable[int]] | None = None,
    ) -> None:
        if patience_s <= 0 or not 1 <= window <= cap:
            raise ValueError(f"patience_s must be positive and 1 <= window <= cap, received {patience_s}, "
                             f"{window}, {cap}")
        self.keys = list(keys)
        self.cap = cap
        self.patience_s = patience_s
        self.window = window
        # Per partition: the window, a heap of (ts, offset, record), and the records behind it, in offset order.
        self._windows: dict[Hashable, list[tuple[float, int, Any]]] = {key: [] for key in self.keys}
        self._behind: dict[Hashable, deque[tuple[float, int, Any]]] = {key: deque() for key in self.keys}
        self._ended = dict.fromkeys(self.keys, False)
        self._next: dict[Hashable, int | None] = {key: (starts or {}).get(key) for key in self.keys}
        self._skip: dict[Hashable, set[int]] = {key: set((released or {}).get(key, ())) for key in self.keys}
        self._out: dict[Hashable, set[int]] = {key: set() for key in self.keys}
        self._silent_since: dict[Hashable, float] = {}
        self.ignored: frozenset[Hashable] = frozenset()

    def add(self, key: Hashable, offset: int, ts: float | None, record: Any) -> None:
        """Buffer ``record`` read at ``offset`` of ``key`` with event time ``ts`` (None: unknown).

        An offset already buffered or released (a partition fetched again
        after a pause, or a resumed one's `released_ahead`) is ignored.
        """
        expected = self._next[key]
        if expected is not None and offset < expected:
            return
        self._next[key] = offset + 1
        self._ended[key] = False
        skip = self._skip[key]
        if offset in skip:
            skip.discard(offset)
            return
        entry = (_NO_TIME if ts is None else ts, offset, record)
        window = self._windows[key]
        if len(window) < self.window:
            heapq.heappush(window, entry)
        else:
            self._behind[key].append(entry)

    def at_end(self, key: Hashable) -> None:
        """Note that ``key`` has delivered everything its log held when fetched (it holds no one back)."""
        self._ended[key] = True

    def release(self, now: float) -> list[Any]:
        """Return the records now due, oldest first; ``now`` is a monotonic time in seconds.

        `ignored` then holds the partitions past the patience, which no
        longer hold the others back.
        """
        out: list[Any] = []
        windows, behind, ended = self._windows, self._behind, self._ended
        full = self.window
        since = self._silent_since
        since = self._silent_since = {
            key: since.get(key, now) for key in self.keys if len(windows[key]) < full and not ended[key]
        }
        ignored = self.ignored = frozenset(key for key, start in since.items() if now - start >= self.patience_s)
        if len(since) > len(ignored):
            return out
        while True:
            best, oldest = None, None
            for key in self.keys:  # in tie-break order: an equal time does not displace an earlier partition
                window = windows[key]
                if len(window) < full and not ended[key] and key not in ignored:
                    return out
                if window and (best is None or window[0][0] < oldest):
                    best, oldest = key, window[0][0]
            if best is None:
                return out
            window = windows[best]
            _, offset, record = heapq.heappop(window)
            if behind[best]:
                heapq.heappush(window, behind[best].popleft())
            if full > 1:  # only a window releases out of offset order
                released = self._out[best]
                released.add(offset)
                if len(released) > self.cap:  # keep what a resume needs: offsets from the first unreleased on
                    first = self._first_unreleased(best)
                    self._out[best] = {done for done in released if first is None or done >= first}
            out.append(record)

    @property
    def drained(self) -> bool:
        """Return whether every partition reached its end and nothing is buffered."""
        return all(self._ended.values()) and not any(self._windows.values())

    def paused(self) -> set[Hashable]:
        """Return the partitions holding ``cap`` records or more: fetch no more from them for now."""
        return {key for key in self.keys if len(self._windows[key]) + len(self._behind[key]) >= self.cap}

    def resume_offsets(self) -> dict[Hashable, int | None]:
        """Return each partition's first offset not released yet (None: nothing read), to resume from."""
        return {key: self._first_unreleased(key) for key in self.keys}

    def released_ahead(self) -> dict[Hashable, tuple[int, ...]]:
        """Return, per partition, the offsets from its resume offset on released already (``released`` to resume)."""
        ahead: dict[Hashable, tuple[int, ...]] = {}
        for key in self.keys:
            first = self._first_unreleased(key)
            if first is None:
                ahead[key] = ()
                continue
            out = self._out[key] = {offset for offset in self._out[key] if offset >= first}
            ahead[key] = tuple(sorted(out | {offset for offset in self._skip[key] if offset >= first}))
        return ahead

    def _first_unreleased(self, key: Hashable) -> int | None:
        window = self._windows[key]
        return min(entry[1] for entry in window) if window else self._next[key]
