"""Book snapshots: top-N levels sampled at a fixed event-time cadence, or every book as it comes.

The sampler keeps the newest L2 book of one coin. Each time event time crosses
a cadence boundary ``t = k * interval_ms`` it emits the book that was in force
at ``t`` (the newest book with ``ts <= t``; it is known once a newer book
arrives), stamped ``ts = t`` so snapshots of
different coins line up for pair statistics. A stretch without updates yields
one snapshot per boundary (the book did not change), capped at
``max_fill`` snapshots so a long outage does not flood the sink. Books older
than the newest one seen are stale and ignored (counted in ``stale_books``).

With ``interval_ms = 0`` every book is a snapshot at its own time: the
record a backtest needs to show each order the very book it met (a venue
that publishes its book after every block, see ``venue.book_every_step``).
"""

from __future__ import annotations

from operators.state import PickledState
from pairflow.events import BookLevel, BookSnapshot, L2Book

__all__ = ["BookSampler", "book_imbalance", "spread_bps"]


def spread_bps(bid_px: float | None, ask_px: float | None) -> float | None:
    """Return the bid-ask spread in basis points of the mid, or None when a side is missing.

    Examples
    --------
    >>> spread_bps(99.0, 101.0)
    200.0
    >>> spread_bps(None, 101.0) is None
    True
    """
    if bid_px is None or ask_px is None:
        return None
    mid = (bid_px + ask_px) / 2.0
    if mid <= 0.0:
        return None
    return (ask_px - bid_px) / mid * 10_000.0


def book_imbalance(bids: tuple[BookLevel, ...], asks: tuple[BookLevel, ...], depth: int) -> float | None:
    """Return ``(bid size - ask size) / (bid size + ask size)`` over the top ``depth`` levels.

    The result lies in [-1, 1]: +1 means only bids, -1 only asks. None when
    both sides are empty.

    Examples
    --------
    >>> book_imbalance((BookLevel(99.0, 3.0),), (BookLevel(101.0, 1.0),), depth=5)
    0.5
    """
    bid_size = sum(level.sz for level in bids[:depth])
    ask_size = sum(level.sz for level in asks[:depth])
    total = bid_size + ask_size
    if total <= 0.0:
        return None
    return (bid_size - ask_size) / total


class BookSampler(PickledState):
    """Sample one coin's L2 books into fixed-cadence top-N snapshots.

    Parameters
    ----------
    coin
        Coin of the books fed in; stamped on every snapshot.
    depth
        Levels per side kept in a snapshot and used for the imbalance.
    interval_ms
        Cadence of the snapshots in event-time milliseconds; 0 emits every book at its own time.
    max_fill
        Most snapshots emitted for one gap between two books.

    Examples
    --------
    >>> sampler = BookSampler("ETH", depth=1, interval_ms=1_000)
    >>> book = L2Book(id="b1", coin="ETH", ts=1_200, bids=(BookLevel(99.0, 3.0),),
    ...               asks=(BookLevel(101.0, 1.0),))
    >>> sampler.update(book)
    []
    >>> later = L2Book(id="b2", coin="ETH", ts=2_100, bids=(BookLevel(100.0, 1.0),),
    ...                asks=(BookLevel(101.0, 1.0),))
    >>> [(s.id, s.ts, s.mid, s.spread_bps, s.imbalance) for s in sampler.update(later)]
    [('ETH:2000', 2000, 100.0, 200.0, 0.5)]
    >>> [(s.id, s.ts) for s in BookSampler("ETH", depth=1, interval_ms=0).update(book)]
    [('ETH:1200', 1200)]
    """

    def __init__(self, coin: str = "", depth: int = 10, interval_ms: int = 1_000, max_fill: int = 60) -> None:
        if depth <= 0 or interval_ms < 0 or max_fill <= 0:
            raise ValueError("depth and max_fill must be positive and interval_ms 0 or more")
        self.coin = coin
        self.depth = depth
        self.interval_ms = interval_ms
        self.max_fill = max_fill
        self.stale_books = 0
        self.skipped_snapshots = 0
        self._book: L2Book | None = None

    def update(self, book: L2Book) -> list[BookSnapshot]:
        """Take a new book; return the snapshots of every boundary it crossed."""
        current = self._book
        if current is not None and book.ts <= current.ts:
            self.stale_books += 1
            return []
        self._book = book
        interval = self.interval_ms
        if not interval:
            return [self._snapshot_at(book, book.ts)]
        if current is None:
            return []
        first = -(-current.ts // interval) * interval
        last = (book.ts - 1) - (book.ts - 1) % interval
        if last < first:
            return []
        count = (last - first) // interval + 1
        if count > self.max_fill:
            self.skipped_snapshots += count - self.max_fill
            first = last - (self.max_fill - 1) * interval
        return [self._snapshot_at(current, boundary) for boundary in range(first, last + 1, interval)]

    def _snapshot_at(self, book: L2Book, boundary: int) -> BookSnapshot:
        bids = book.bids[: self.depth]
        asks = book.asks[: self.depth]
        bid_px = bids[0].px if bids else None
        ask_px = asks[0].px if asks else None
        return BookSnapshot(
            id=f"{self.coin}:{boundary}",
            ts=boundary,
            recv_ts=book.recv_ts,
            coin=self.coin,
            bid_px=tuple(level.px for level in bids),
            bid_sz=tuple(level.sz for level in bids),
            ask_px=tuple(level.px for level in asks),
            ask_sz=tuple(level.sz for level in asks),
            mid=(bid_px + ask_px) / 2.0 if bid_px is not None and ask_px is not None else None,
            spread_bps=spread_bps(bid_px, ask_px),
            imbalance=book_imbalance(bids, asks, self.depth),
        )
