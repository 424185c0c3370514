"""Unit tests for operators.book.BookSampler."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from operators.book import BookSampler, book_imbalance, spread_bps
from operators.check import check_operator
from pairflow.events import BookLevel, L2Book


def book(ts: int, bids: list[tuple[float, float]], asks: list[tuple[float, float]], coin: str = "ETH") -> L2Book:
    return L2Book(
        id=f"{coin}:{ts}",
        coin=coin,
        ts=ts,
        recv_ts=ts + 3,
        bids=tuple(BookLevel(px, sz, 1) for px, sz in bids),
        asks=tuple(BookLevel(px, sz, 1) for px, sz in asks),
    )


DEEP = book(
    1_250,
    bids=[(2000.0, 1.0), (1999.5, 2.0), (1999.0, 4.0)],
    asks=[(2000.5, 0.5), (2001.0, 0.5), (2002.0, 9.0)],
)


def test_snapshot_holds_top_levels_spread_and_imbalance_computed_by_hand() -> None:
    sampler = BookSampler("ETH", depth=2, interval_ms=1_000)
    assert sampler.update(DEEP) == []
    (snap,) = sampler.update(book(2_010, [(1.0, 1.0)], [(2.0, 1.0)]))
    assert snap.id == "ETH:2000" and snap.ts == 2_000 and snap.recv_ts == 1_253
    assert snap.bid_px == (2000.0, 1999.5) and snap.bid_sz == (1.0, 2.0)
    assert snap.ask_px == (2000.5, 2001.0) and snap.ask_sz == (0.5, 0.5)
    assert snap.mid == 2000.25
    # (2000.5 - 2000) / 2000.25 * 1e4
    assert snap.spread_bps == pytest.approx(2.4996875390576178)
    # top-2 bids 3.0 vs asks 1.0 -> (3 - 1) / 4
    assert snap.imbalance == 0.5


def test_one_snapshot_per_boundary_crossed_using_the_book_in_force() -> None:
    sampler = BookSampler("ETH", depth=1, interval_ms=1_000)
    sampler.update(book(500, [(10.0, 1.0)], [(11.0, 1.0)]))
    sampler.update(book(900, [(10.0, 2.0)], [(11.0, 1.0)]))
    snaps = sampler.update(book(3_000, [(12.0, 1.0)], [(13.0, 1.0)]))
    # Boundaries 1000 and 2000 both see the 900 book; 3000 is taken by the next book.
    assert [(s.ts, s.bid_sz) for s in snaps] == [(1_000, (2.0,)), (2_000, (2.0,))]
    (at_3000,) = sampler.update(book(3_001, [(12.0, 1.0)], [(13.0, 1.0)]))
    assert at_3000.ts == 3_000 and at_3000.bid_px == (12.0,)


def test_stale_books_are_ignored_and_long_gaps_are_capped() -> None:
    sampler = BookSampler("ETH", depth=1, interval_ms=100, max_fill=3)
    sampler.update(book(1_000, [(10.0, 1.0)], [(11.0, 1.0)]))
    assert sampler.update(book(999, [(1.0, 1.0)], [(2.0, 1.0)])) == []
    assert sampler.stale_books == 1
    snaps = sampler.update(book(2_000, [(10.0, 1.0)], [(11.0, 1.0)]))
    assert [s.ts for s in snaps] == [1_700, 1_800, 1_900]
    assert sampler.skipped_snapshots == 7


def test_empty_side_gives_no_spread_but_an_imbalance() -> None:
    sampler = BookSampler("ETH", depth=5, interval_ms=1_000)
    sampler.update(book(10, [(10.0, 2.0)], []))
    (snap,) = sampler.update(book(1_010, [], []))
    assert (snap.mid, snap.spread_bps, snap.imbalance, snap.ask_px) == (None, None, 1.0, ())


def test_spread_and_imbalance_helpers() -> None:
    assert spread_bps(99.0, 101.0) == 200.0
    assert spread_bps(None, None) is None
    levels = (BookLevel(1.0, 1.0), BookLevel(1.0, 5.0))
    assert book_imbalance(levels, (BookLevel(2.0, 1.0),), depth=1) == 0.0
    assert book_imbalance((), (), depth=3) is None


def test_invalid_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        BookSampler("ETH", depth=0)
    with pytest.raises(ValueError, match="0 or more"):
        BookSampler("ETH", interval_ms=-1)


@given(st.lists(st.tuples(st.integers(0, 10_000), st.floats(1.0, 1e4), st.floats(0.01, 1e3)), max_size=30))
def test_with_no_cadence_every_newer_book_is_a_snapshot_at_its_own_time(updates) -> None:
    sampler = BookSampler("ETH", depth=1, interval_ms=0)
    emitted, newest = [], None
    for ts, px, sz in updates:
        out = sampler.update(book(ts, [(px, sz)], [(px * 1.001, sz)]))
        if newest is None or ts > newest:
            newest = ts
            assert [(s.id, s.ts, s.bid_px, s.bid_sz, s.ask_px) for s in out] == [
                (f"ETH:{ts}", ts, (px,), (sz,), (px * 1.001,))]
            emitted.append(ts)
        else:
            assert out == []
    assert sampler.stale_books == len(updates) - len(emitted)


def test_book_sampler_passes_the_conformance_battery() -> None:
    books = [
        book(ts, [(100.0 - i % 3, 1.0 + i % 4)], [(101.0 + i % 2, 2.0)])
        for i, ts in enumerate([10, 350, 340, 1_200, 1_900, 5_300, 5_301, 7_000, 7_000, 9_999])
    ]
    check_operator(BookSampler("ETH", depth=1, interval_ms=500), books)
    check_operator(BookSampler("ETH", depth=1, interval_ms=0), books)
