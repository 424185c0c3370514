"""Event-time merge of a spread's legs: release bars in time order whatever order they arrived in.

Bars of different coins can arrive apart in time order: published live a
moment apart, or read from topic partitions consumed each at its own pace
(`sources.time_ordered_source` merges them by event time, other readers may
not). Aligned as they arrive, the early leg would find the other one stale
and rows would be lost, and the signals would depend on how the partitions
happened to interleave.

`LegMerger` queues each leg's bars and releases the oldest head while every
leg has one queued (a k-way merge by ``ts``, ties in leg order). A leg with
nothing queued holds the others back for at most ``hold_ms`` of their event
time, after which their oldest bar is released anyway (the leg is quiet or
gone, and the aligner downstream judges staleness). Until every leg has been
seen once -- at the first start, and again after each restart (`restart`),
when partition readers begin at different moments -- the others are held
without that limit, up to ``max_held`` bars in all. So the released order
depends only on each leg's own sequence as long as the arrival skew stays
within ``hold_ms``; the cost is that a quiet leg delays its spread's rows by up
to ``hold_ms``. A correction of a bar still queued (same leg and ``ts``: ingest
re-emits a bar a late trade corrected) is queued right behind it, so it reaches
the strategy after the first version exactly as when that one was released
already, and is refused there the same way: which version a spread trades on
must not depend on how the other legs happened to interleave. Any other bar not
newer than its leg's last queued one (a replay) is passed straight on for the
aligner to refuse.
"""

from __future__ import annotations

from collections import deque

from operators.state import PickledState
from pairflow.events import Bar

__all__ = ["LegMerger"]


class LegMerger(PickledState):
    """Merge the bars of ``legs`` into event-time order, holding a leg back at most ``hold_ms``.

    Examples
    --------
    >>> def bar(coin, ts, close):
    ...     return Bar(id=f"{coin}:1m:{ts}", coin=coin, ts=ts, interval="1m", open=close, high=close, low=close,
    ...                close=close, volume=1.0, notional=close, vwap=close, trades=1, buy_volume=1.0, sell_volume=0.0)
    >>> merge = LegMerger(("ETH", "SOL"), hold_ms=120_000)
    >>> [b.id for b in merge.update(bar("ETH", 0, 10.0)) + merge.update(bar("ETH", 60_000, 11.0))]
    []
    >>> [b.id for b in merge.update(bar("SOL", 0, 5.0))]
    ['ETH:1m:0', 'SOL:1m:0']
    >>> [b.id for b in merge.update(bar("ETH", 180_000, 12.0))]  # SOL silent: ETH held 120 s at most
    ['ETH:1m:60000']
    >>> [b.id for b in merge.flush()]
    ['ETH:1m:180000']
    """

    def __init__(self, legs: tuple[str, ...] = ("A", "B"), hold_ms: int = 300_000, max_held: int = 10_000) -> None:
        if hold_ms < 0 or max_held < 1:
            raise ValueError(f"hold_ms must not be negative and max_held positive, received {hold_ms}, {max_held}")
        self.legs = tuple(legs)
        self.hold_ms = hold_ms
        self.max_held = max_held
        self.queues: list[deque[Bar]] = [deque() for _ in self.legs]
        self.seen = [False] * len(self.legs)

    def restart(self) -> None:
        """Hold without the time limit again until every leg has been seen (the input was restarted)."""
        self.seen = [bool(queue) for queue in self.queues]

    def update(self, bar: Bar) -> list[Bar]:
        """Queue ``bar`` (a bar of another coin, or an old one, passes straight on); return the bars now due."""
        if bar.coin not in self.legs:
            return [bar]
        index = self.legs.index(bar.coin)
        self.seen[index] = True
        queue = self.queues[index]
        if queue and bar.ts <= queue[-1].ts:
            return self._correct(queue, bar)
        queue.append(bar)
        return self._release(force=False)

    @staticmethod
    def _correct(queue: deque[Bar], bar: Bar) -> list[Bar]:
        behind = None
        for position, held in enumerate(queue):
            if held.ts == bar.ts:
                behind = position + 1
            elif held.ts > bar.ts:
                break
        if behind is None:
            return [bar]
        queue.insert(behind, bar)
        return []

    def flush(self) -> list[Bar]:
        """Release everything queued, in time order (end of a finite input)."""
        return self._release(force=True)

    def _release(self, force: bool) -> list[Bar]:
        out: list[Bar] = []
        queues = self.queues
        while True:
            heads = [(queue[0].ts, index) for index, queue in enumerate(queues) if queue]
            if not heads:
                return out
            if len(heads) < len(queues) and not force:
                if not all(self.seen) and sum(map(len, queues)) <= self.max_held:
                    return out
                newest = max(queue[-1].ts for queue in queues if queue)
                heads = [(ts, index) for ts, index in heads if newest - ts >= self.hold_ms]
                if not heads:
                    return out
            out.append(queues[min(heads)[1]].popleft())
