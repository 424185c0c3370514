"""Merge the records of several topic partitions into one event-time order.

Partitions read at their own pace: on a backlog one consumer's first fetch can
land long before another's, and reading each partition as it comes puts one
coin hundreds of bars ahead of the other. A spread would then see its early
leg alone, and the signals would depend on how the fetches happened to
interleave -- a killed and resumed run would not repeat an uninterrupted one.

`EventTimeMerge` buffers each partition's records and releases the oldest head
(by event time, ties in partition order) only while every partition either has
a record buffered or has reported reaching its end of log. A partition still
being fetched therefore holds the others back, so on a backlog the output is
the same total order whatever the fetch timing; live, a partition at its end
does not hold anyone. Two bounds keep it from stalling: a partition silent for
longer than ``patience_s`` (unreachable) stops holding the others, and a
partition whose buffer reaches ``cap`` records asks to be paused until it
drains (`paused`), so memory stays bounded. Records without an event time
(undecodable) go out first, for the decoder downstream to refuse.

It is IO-free: the reader feeds it records, end-of-log marks and the time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from typing import Any

__all__ = ["EventTimeMerge"]

_NO_TIME = float("-inf")


class EventTimeMerge:
    """Event-time k-way merge of partition streams whose slowest open stream holds the others.

    Parameters
    ----------
    keys
        The partitions, in tie-break order.
    cap
        Buffered records per partition at which it should be paused.
    patience_s
        Seconds a silent partition (nothing buffered, end of log not
        reported) may hold the others back.

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
    """

    def __init__(self, keys: Sequence[Hashable], cap: int = 1_000, patience_s: float = 30.0) -> None:
        if cap < 1 or patience_s <= 0:
            raise ValueError(f"cap and patience_s must be positive, received {cap}, {patience_s}")
        self.keys = list(keys)
        self.cap = cap
        self.patience_s = patience_s
        self._buffers: dict[Hashable, deque[tuple[float, int, Any]]] = {key: deque() for key in self.keys}
        self._ended = dict.fromkeys(self.keys, False)
        self._next: dict[Hashable, int | None] = dict.fromkeys(self.keys)
        self._silent_since: dict[Hashable, float] = {}
        self.ignored: frozenset[Hashable] = frozenset()

    def add(self, key: Hashable, offset: int, ts: float | None, record: Any) -> None:
        """Buffer ``record`` read at ``offset`` of ``key`` with event time ``ts`` (None: unknown).

        An offset already buffered or released (a partition fetched again
        after a pause) is ignored.
        """
        expected = self._next[key]
        if expected is not None and offset < expected:
            return
        self._next[key] = offset + 1
        self._ended[key] = False
        self._buffers[key].append((_NO_TIME if ts is None else ts, offset, record))

    def at_end(self, key: Hashable) -> None:
        """Note that ``key`` has delivered everything its log held when fetched (it holds no one back)."""
        self._ended[key] = True

    def release(self, now: float) -> list[Any]:
        """Return the records now due, oldest first; ``now`` is a monotonic time in seconds.

        `ignored` then holds the partitions silent past the patience, which
        no longer hold the others back.
        """
        out: list[Any] = []
        buffers, ended = self._buffers, self._ended
        since = self._silent_since
        since = self._silent_since = {
            key: since.get(key, now) for key in self.keys if not buffers[key] and not ended[key]
        }
        self.ignored = frozenset(key for key, start in since.items() if now - start >= self.patience_s)
        if len(since) > len(self.ignored):
            return out
        while True:
            head = None
            for key in self.keys:
                buffer = buffers[key]
                if buffer:
                    if head is None or buffer[0][0] < buffers[head][0][0]:
                        head = key
                elif not ended[key] and key not in self.ignored:
                    return out
            if head is None:
                return out
            out.append(buffers[head].popleft()[2])

    @property
    def drained(self) -> bool:
        """Return whether every partition reached its end and nothing is buffered."""
        return all(self._ended.values()) and not any(self._buffers.values())

    def paused(self) -> set[Hashable]:
        """Return the partitions holding ``cap`` records or more: fetch no more from them for now."""
        return {key for key, buffer in self._buffers.items() if len(buffer) >= self.cap}

    def resume_offsets(self) -> dict[Hashable, int | None]:
        """Return each partition's first offset not released yet (None: nothing read), to resume from."""
        return {
            key: buffer[0][1] if buffer else self._next[key] for key, buffer in self._buffers.items()
        }
