"""Read recorded order books and trades (CSV or Parquet) for a backtest that fills against recorded depth.

Two layouts, recognised from the header (column order and case do not matter):

* book snapshots: ``timestamp, coin`` then, for levels 1..N (best first), ``bid_px_<k>, bid_sz_<k>,
  ask_px_<k>, ask_sz_<k>``. One row is the whole book of one coin at one time; a side may run
  out of levels before N (empty cells), but not skip one;
* trades: ``timestamp, coin, side, px, sz`` with side ``B`` (a buyer took the ask) or ``A``
  (a seller hit the bid). Trades only matter to resting orders, which they may fill.

Timestamps are read as in `sources.history_files` (ISO 8601, epoch seconds or ms). A snapshot
stands from its time until the next one of its coin, so rows must be in time order per coin
with no time repeated; trades of one coin may share a time but not go back. Anything else is
refused with one line naming the file, the line, the column and the value: a missing or
stray column, a price or size that is not a positive number, a level without its price or
size, bids that do not fall or asks that do not rise level by level, a crossed book.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pairflow.events import BookLevel, BookSnapshot, Trade
from sources.history_files import (_SYMBOL, ImportFileError, _check_order, _fields, _iso, _number, _time_ms,
                                   open_columns)

__all__ = ["DepthFile", "read_depth_file"]

TRADE_COLUMNS = ("timestamp", "coin", "side", "px", "sz")
_LEVEL = re.compile(r"^(bid|ask)_(px|sz)_([1-9][0-9]*)$")


@dataclass
class DepthFile:
    """What a depth file held, per coin in time order: book snapshots or trades."""

    path: Path
    books: dict[str, list[BookSnapshot]] = field(default_factory=dict)
    trades: dict[str, list[Trade]] = field(default_factory=dict)


def read_depth_file(path: Path) -> DepthFile | None:
    """Read and validate a book-snapshot or trade file; return None when its header is neither layout.

    A file that has a depth layout but cannot be used as it is raises `ImportFileError`, which
    names the file, the line and the value at fault (`sources.history_files` reads the others).
    """
    path = Path(path)
    _, names, rows = open_columns(path)
    if sorted(names) == sorted(TRADE_COLUMNS):
        return _read_trades(path, rows, [names.index(name) for name in TRADE_COLUMNS])
    if not any(_LEVEL.match(name) for name in names):
        return None
    stray = [name for name in names if name not in ("timestamp", "coin") and not _LEVEL.match(name)]
    depth = max(int(_LEVEL.match(name).group(3)) for name in names if _LEVEL.match(name))  # type: ignore[union-attr]
    expected = ["timestamp", "coin"] + [f"{side}_{kind}_{k}" for k in range(1, depth + 1) for side in ("bid", "ask")
                                        for kind in ("px", "sz")]
    missing = [name for name in expected if name not in names]
    if stray or missing:
        raise ImportFileError(path, 1, f"a book file has timestamp, coin and bid_px_k, bid_sz_k, ask_px_k, ask_sz_k "
                                       f"for k = 1..{depth}" + (f"; unexpected: {', '.join(stray)}" if stray else "")
                                       + (f"; missing: {', '.join(missing)}" if missing else ""))
    return _read_books(path, rows, [names.index(name) for name in expected], depth)


def _read_books(path: Path, rows: Iterator[tuple[int, Sequence[Any]]], order: list[int], depth: int) -> DepthFile:
    out = DepthFile(path)
    last: dict[str, tuple[int, int]] = {}
    for line, row in rows:
        _fields(path, line, row, len(order))
        values = [row[i] for i in order]
        coin = _coin(path, line, values[1])
        ts = _time_ms(path, line, values[0])
        bids = _side(path, line, "bid", values[2:], depth)
        asks = _side(path, line, "ask", values[4:], depth)
        if bids and asks and bids[0].px >= asks[0].px:
            raise ImportFileError(path, line, f"{coin} book is crossed: best bid {bids[0].px} >= best ask {asks[0].px}")
        _check_order(path, line, coin, ts, last)
        out.books.setdefault(coin, []).append(_snapshot(coin, ts, bids, asks))
    if not out.books:
        raise ImportFileError(path, 2, "file had no data rows")
    return out


def _snapshot(coin: str, ts: int, bids: tuple[BookLevel, ...], asks: tuple[BookLevel, ...]) -> BookSnapshot:
    """Return the snapshot with the mid, spread (bp of the mid) and size imbalance a collected one carries."""
    mid = (bids[0].px + asks[0].px) / 2 if bids and asks else None
    bid_size, ask_size = sum(level.sz for level in bids), sum(level.sz for level in asks)
    return BookSnapshot(ts=ts, recv_ts=ts, id=f"{coin}:{ts}", coin=coin, bid_px=tuple(level.px for level in bids),
                        bid_sz=tuple(level.sz for level in bids), ask_px=tuple(level.px for level in asks),
                        ask_sz=tuple(level.sz for level in asks), mid=mid,
                        spread_bps=None if mid is None else (asks[0].px - bids[0].px) / mid * 10_000,
                        imbalance=(bid_size - ask_size) / (bid_size + ask_size) if bids or asks else None)


def _side(path: Path, line: int, side: str, values: Sequence[Any], depth: int) -> tuple[BookLevel, ...]:
    """Return one side's levels from the row's level columns (4 per level: bid px, bid sz, ask px, ask sz)."""
    levels: list[BookLevel] = []
    for k in range(depth):
        px_raw, sz_raw = values[4 * k], values[4 * k + 1]
        blank = [_blank(px_raw), _blank(sz_raw)]
        if all(blank):
            continue
        if any(blank):
            raise ImportFileError(path, line, f"{side} level {k + 1} has a {'size' if blank[0] else 'price'} "
                                              f"but no {'price' if blank[0] else 'size'}")
        if len(levels) < k:
            raise ImportFileError(path, line, f"{side} level {k + 1} follows an empty level {len(levels) + 1}")
        px = _number(path, line, f"{side}_px_{k + 1}", px_raw, "positive")
        sz = _number(path, line, f"{side}_sz_{k + 1}", sz_raw, "positive")
        if levels and (px >= levels[-1].px if side == "bid" else px <= levels[-1].px):
            raise ImportFileError(path, line, f"{side}_px_{k + 1} {px} does not {'fall' if side == 'bid' else 'rise'} "
                                              f"from level {k} ({levels[-1].px})")
        levels.append(BookLevel(px, sz))
    return tuple(levels)


def _read_trades(path: Path, rows: Iterator[tuple[int, Sequence[Any]]], order: list[int]) -> DepthFile:
    out = DepthFile(path)
    last: dict[str, tuple[int, int]] = {}
    for line, row in rows:
        _fields(path, line, row, len(order))
        ts_raw, coin_raw, side_raw, px_raw, sz_raw = (row[i] for i in order)
        coin = _coin(path, line, coin_raw)
        ts = _time_ms(path, line, ts_raw)
        side = str(side_raw).strip().upper()
        if side not in ("B", "A"):
            raise ImportFileError(path, line, f"side {side_raw!r} is not B (buyer took the ask) or A (seller hit the bid)")
        px = _number(path, line, "px", px_raw, "positive")
        sz = _number(path, line, "sz", sz_raw, "positive")
        previous = last.get(coin)
        if previous is not None and ts < previous[0]:
            raise ImportFileError(path, line, f"{coin} at {_iso(ts)} is before line {previous[1]} "
                                              f"({_iso(previous[0])}); rows must be sorted by time")
        last[coin] = (ts, line)
        trades = out.trades.setdefault(coin, [])
        trades.append(Trade(ts=ts, recv_ts=ts, id=f"{coin}:{line}", coin=coin, px=px, sz=sz, side=side,  # type: ignore[arg-type]
                            tid=len(trades)))
    if not out.trades:
        raise ImportFileError(path, 2, "file had no data rows")
    return out


def _coin(path: Path, line: int, value: Any) -> str:
    coin = str(value).strip()
    if not _SYMBOL.match(coin):
        raise ImportFileError(path, line, f"coin {value!r} is not a symbol name")
    return coin


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
