"""Fuzz the book and trade file parser: any file gives books/trades, None (not a depth layout) or one ImportFileError."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sources.book_files import DepthFile, read_depth_file
from sources.history_files import ImportFileError

cells = st.one_of(
    st.sampled_from(["", "0", "-1", "1e309", "nan", "1.5", "101", "99", "B", "A", "ETH", "2026-01-05T10:00:00.250Z",
                     "1767607200250", "  7 "]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n,\""), max_size=6),
)
headers = st.one_of(
    st.just("timestamp,coin,bid_px_1,bid_sz_1,ask_px_1,ask_sz_1"),
    st.just("timestamp,coin,bid_px_1,bid_sz_1,ask_px_1,ask_sz_1,bid_px_2,bid_sz_2,ask_px_2,ask_sz_2"),
    st.just("timestamp,coin,bid_px_2,bid_sz_2,ask_px_2,ask_sz_2"),
    st.just("timestamp,coin,side,px,sz"),
    st.lists(st.sampled_from(["timestamp", "coin", "side", "px", "sz", "bid_px_1", "ask_sz_3", "x"]), min_size=1,
             max_size=7).map(",".join),
)


def _read(text: str) -> DepthFile | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_text(text, encoding="utf-8")
        return read_depth_file(path)


@settings(max_examples=150, deadline=None)
@given(header=headers, rows=st.lists(st.lists(cells, min_size=0, max_size=10).map(",".join), max_size=6))
def test_any_text_is_read_or_refused_with_one_line(header: str, rows: list[str]) -> None:
    try:
        found = _read("\n".join([header, *rows]) + "\n")
    except ImportFileError as error:
        assert str(error).split(":")[0].endswith("fuzz.csv") and "\n" not in str(error)
        return
    for series in (found.books if found is not None else {}).values():
        assert all(a.ts < b.ts for a, b in zip(series, series[1:]))
        for book in series:
            assert list(book.bid_px) == sorted(book.bid_px, reverse=True) and list(book.ask_px) == sorted(book.ask_px)
            assert not (book.bid_px and book.ask_px) or book.bid_px[0] < book.ask_px[0]
            assert all(size > 0 for size in (*book.bid_sz, *book.ask_sz))


ladders = st.lists(st.tuples(st.integers(1, 50), st.integers(1, 10_000)), max_size=4)


@settings(max_examples=80, deadline=None)
@given(snapshots=st.lists(st.tuples(st.integers(1, 5_000), ladders, ladders), min_size=1, max_size=8))
def test_valid_book_files_read_back_exactly(snapshots: list[tuple[int, list, list]]) -> None:
    """Bids fall and asks rise from a mid of 1000 by the given steps (cents); sizes in thousandths."""
    depth = max(1, *(max(len(bids), len(asks)) for _, bids, asks in snapshots))
    header = ",".join(f"{side}_{kind}_{k}" for k in range(1, depth + 1) for side in ("bid", "ask") for kind in ("px", "sz"))
    ts, lines, expected = 1_767_607_200_000, [], []
    for gap, bids, asks in snapshots:
        ts += gap
        sides = []
        for sign, steps in ((-1, bids), (1, asks)):
            px, levels = 1000.0, []
            for step, size in steps:
                px = round(px + sign * step / 100, 2)
                levels.append((px, size / 1000))
            sides.append(levels)
        cells = []
        for k in range(depth):
            for levels in sides:
                cells += [repr(levels[k][0]), repr(levels[k][1])] if k < len(levels) else ["", ""]
        lines.append(f"{ts},ETH," + ",".join(cells))
        expected.append((ts, *(tuple(p for p, _ in levels) for levels in sides),
                         *(tuple(s for _, s in levels) for levels in sides)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "books.csv"
        path.write_text(f"timestamp,coin,{header}\n" + "\n".join(lines) + "\n")
        found = read_depth_file(path)
    assert found is not None
    assert [(b.ts, b.bid_px, b.ask_px, b.bid_sz, b.ask_sz) for b in found.books["ETH"]] == expected
