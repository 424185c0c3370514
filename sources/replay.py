"""Recorded market data for a backtest: bars and funding from files or the store, checked, in event-time order.

A backtest must see the market exactly as it unfolded and nothing later, so
this module only reads, orders and checks -- it never fills a hole:

* a bar's event time is its close (open time plus the interval), the moment
  its price was known; a funding record's is its own stamp. `replay` yields
  ``(event_ms, [event, ...])`` groups in that order, ties broken by kind and
  coin so the order never depends on how the input was laid out. A funding
  record stamped just after the hour (the exchange's are, by ~100 ms) is its
  own step, not folded into a bar's: into the hour's bar it would reach a
  decision taken before it was published; into the next bar, the strategy
  would learn the rate a whole bar late. (The engine settles each hour at the
  boundary either way, from the rate recorded for that hour.);
* `check_recording` names every problem with its coin and time range: a hole
  between two bars (also the store's ``gaps`` table), hours without a
  funding record (charged nothing), a coin with no bar in the window (an
  error: its spreads cannot be replayed) or starting late / ending early.
  Unsorted or repeated rows in a file are refused by
  `sources.history_files.read_history_file`, naming the coin, time and line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from pairflow.errors import PairflowError
from pairflow.events import Bar, BookSnapshot, Candle, Funding, Trade
from pairflow.storage import Store
from sources.book_files import read_depth_file
from sources.history_files import read_history_file

__all__ = ["DataProblem", "Recording", "ReplayError", "bar_of", "check_recording", "load_files", "load_store", "replay"]

HOUR_MS = 3_600_000


class ReplayError(PairflowError):
    """Raise when the recording cannot be replayed as asked (missing coin, mixed intervals, no data)."""

    exit_code = 2


class DataProblem(NamedTuple):
    """One data-quality finding: what, which coin, from when to when (epoch ms, inclusive start)."""

    kind: str
    coin: str
    start_ms: int
    end_ms: int
    detail: str = ""

    def describe(self) -> str:
        """Return one line naming the coin and the time range."""
        return f"{self.kind}: {self.coin} {iso(self.start_ms)} .. {iso(self.end_ms)}" + (
            f" ({self.detail})" if self.detail else "")


@dataclass
class Recording:
    """Bars per coin (time-sorted), funding records, the bar interval and what the checks found.

    ``books`` and ``trades`` (per coin, time-sorted) are the recorded depth that book fills
    trade against (`sinks.book_fills`), and ``oracles`` ((time, oracle price) per coin, from the
    recorded asset contexts) the price hourly funding settles at, as on the venue; where a coin has
    none (files, or a store without asset contexts) funding settles at its last bar close.
    """

    interval: str
    interval_ms: int
    bars: dict[str, list[Bar]]
    funding: list[Funding] = field(default_factory=list)
    problems: list[DataProblem] = field(default_factory=list)
    books: dict[str, list[BookSnapshot]] = field(default_factory=dict)
    trades: dict[str, list[Trade]] = field(default_factory=dict)
    oracles: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    @property
    def start_ms(self) -> int:
        return min(series[0].ts for series in self.bars.values() if series)

    @property
    def end_ms(self) -> int:
        return max(series[-1].ts for series in self.bars.values() if series) + self.interval_ms


def iso(ms: int) -> str:
    """Return ``ms`` as an ISO-8601 UTC time."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bar_of(candle: Candle) -> Bar:
    """Turn a recorded candle into the `Bar` the strategy reads (close as its VWAP, volume split evenly)."""
    return Bar(ts=candle.ts, recv_ts=candle.recv_ts, id=candle.id, coin=candle.coin, interval=candle.interval,
               open=candle.open, high=candle.high, low=candle.low, close=candle.close, volume=candle.volume,
               notional=candle.volume * candle.close, vwap=candle.close, trades=candle.trades,
               buy_volume=candle.volume / 2, sell_volume=candle.volume / 2)


def _interval_ms(label: str) -> int:
    units = {"s": 1_000, "m": 60_000, "h": HOUR_MS, "d": 24 * HOUR_MS}
    return int(label[:-1]) * units[label[-1]]


def _select(candles: Iterable[Candle], funding: Iterable[Funding], interval: str, coins: Sequence[str],
            start_ms: int | None, end_ms: int | None) -> Recording:
    lo, hi = start_ms if start_ms is not None else -(2**62), end_ms if end_ms is not None else 2**62
    wanted = set(coins)
    bars: dict[str, list[Bar]] = {coin: [] for coin in coins}
    for candle in candles:
        if candle.coin in wanted and lo <= candle.ts and candle.ts + _interval_ms(interval) <= hi:
            bars[candle.coin].append(bar_of(candle))
    for series in bars.values():
        series.sort(key=lambda bar: bar.ts)
    rates = sorted((f for f in funding if f.coin in wanted and lo <= f.ts < hi), key=lambda f: (f.ts, f.coin))
    return Recording(interval, _interval_ms(interval), bars, rates)


def load_files(paths: Sequence[Path], coins: Sequence[str], *, start_ms: int | None = None,
               end_ms: int | None = None, depth: bool = False) -> Recording:
    """Read candle and funding files (CSV or Parquet, the layouts `pairflow data import` reads) for ``coins``.

    ``depth`` (book fills) also reads book-snapshot and trade files (`sources.book_files`) and
    refuses a coin without snapshots; without it such a file is refused, as nothing would use it.
    """
    candles: list[Candle] = []
    funding: list[Funding] = []
    intervals: set[str] = set()
    books: dict[str, list[BookSnapshot]] = {coin: [] for coin in coins}
    trades: dict[str, list[Trade]] = {coin: [] for coin in coins}
    for path in paths:
        recorded = read_depth_file(Path(path))
        if recorded is not None:
            if not depth:
                raise ReplayError(f"{path}: book snapshots and trades are only read for book fills (--fill book)")
            _merge_depth(recorded.books, books, path)
            _merge_depth(recorded.trades, trades, path)
            continue
        history = read_history_file(Path(path))
        if history.kind == "candles":
            intervals.add(history.interval or "")
            candles += history.candles
        else:
            funding += history.funding
    if len(intervals) != 1:
        raise ReplayError(f"the candle files must hold one bar interval; found {sorted(intervals) or 'no candles'}")
    recording = _select(candles, funding, intervals.pop(), coins, start_ms, end_ms)
    recording.problems = check_recording(recording, coins, start_ms, end_ms)
    if depth:
        lo, hi = start_ms if start_ms is not None else -(2**62), end_ms if end_ms is not None else 2**62
        recording.books = {coin: [b for b in series if lo <= b.ts < hi] for coin, series in books.items()}
        recording.trades = {coin: [t for t in series if lo <= t.ts < hi] for coin, series in trades.items()}
        _require_books(recording.books)
    return recording


def _merge_depth(found: dict, into: dict, path: Path) -> None:
    """Add one file's series to the coins asked for; two files for one coin must not overlap in time."""
    for coin, series in found.items():
        if coin not in into:
            continue
        if into[coin] and series and series[0].ts <= into[coin][-1].ts:
            raise ReplayError(f"{path}: {coin} from {iso(series[0].ts)} overlaps an earlier file's rows "
                              f"(up to {iso(into[coin][-1].ts)}); give each coin's rows once, files in time order")
        into[coin] += series


def _require_books(books: dict[str, list[BookSnapshot]]) -> None:
    empty = [coin for coin, series in books.items() if not series]
    if empty:
        raise ReplayError(f"no recorded book snapshots for {', '.join(empty)} in the window: book fills need "
                          "l2_snapshots (pairflow collect records them) or a book file; use bar fills")


def load_store(store: Store, interval: str, coins: Sequence[str], *, start_ms: int | None = None,
               end_ms: int | None = None, depth: bool = False) -> Recording:
    """Read recorded candles, funding, oracle prices and known holes (``gaps`` table) for ``coins`` from ClickHouse.

    ``depth`` also reads the book snapshots and trades, and refuses a coin without snapshots. Without it
    only each hour's last oracle price is read: the one its funding settles at (the others would only
    fill memory on a long replay).
    """
    lo, hi = start_ms if start_ms is not None else 0, end_ms if end_ms is not None else 2**62
    params = {"coins": list(coins), "lo": lo, "hi": hi, "interval": interval}
    rows = store.query(
        "SELECT coin, ts, argMax(close_ts, recv_ts), argMax(open, recv_ts), argMax(high, recv_ts), argMax(low, recv_ts), "
        "argMax(close, recv_ts), argMax(volume, recv_ts), argMax(trades, recv_ts), max(recv_ts) FROM candles "
        "WHERE coin IN %(coins)s AND interval = %(interval)s AND ts >= %(lo)s AND ts < %(hi)s "
        "GROUP BY coin, ts ORDER BY coin, ts", params)
    candles = [Candle(ts=ts, recv_ts=recv, id=f"{coin}:{interval}:{ts}", coin=coin, interval=interval, close_ts=close_ts,
                      open=o, high=h, low=low, close=c, volume=v, trades=n)
               for coin, ts, close_ts, o, h, low, c, v, n, recv in rows]
    rates = store.query("SELECT coin, ts, argMax(rate, recv_ts) FROM funding WHERE coin IN %(coins)s "
                        "AND ts >= %(lo)s AND ts < %(hi)s GROUP BY coin, ts ORDER BY ts, coin", params)
    funding = [Funding(ts=ts, recv_ts=ts, id=f"{coin}:{ts}", coin=coin, rate=rate) for coin, ts, rate in rates]
    recording = _select(candles, funding, interval, coins, start_ms, end_ms)
    holes = store.query("SELECT coin, start_ts, end_ts, reason FROM gaps FINAL WHERE coin IN %(coins)s "
                        "AND end_ts >= %(lo)s AND start_ts < %(hi)s AND NOT filled ORDER BY coin, start_ts", params)
    recording.problems = check_recording(recording, coins, start_ms, end_ms) + [
        DataProblem("recorded gap", coin, start, end, reason) for coin, start, end, reason in holes]
    if depth:
        recording.books, recording.trades = _load_depth(store, params, coins)
    recording.oracles = {coin: [] for coin in coins}
    group = "ts" if depth else "intDiv(ts, 3600000)"
    for coin, ts, oracle in store.query(f"SELECT coin, max(ts), argMax(oracle_px, (ts, recv_ts)) FROM asset_ctx "
                                        "WHERE coin IN %(coins)s AND ts >= %(lo)s AND ts < %(hi)s AND oracle_px > 0 "
                                        f"GROUP BY coin, {group} ORDER BY coin, 2", params):
        recording.oracles[coin].append((ts, oracle))
    return recording


def _load_depth(store: Store, params: dict, coins: Sequence[str]) -> tuple[dict[str, list[BookSnapshot]],
                                                                          dict[str, list[Trade]]]:
    where = "coin IN %(coins)s AND ts >= %(lo)s AND ts < %(hi)s"
    books: dict[str, list[BookSnapshot]] = {coin: [] for coin in coins}
    for row in store.select("l2_snapshots", "ts, recv_ts, id, coin, bid_px, bid_sz, ask_px, ask_sz, mid, "
                            "spread_bps, imbalance", where, params, order_by="ts, coin, id"):
        books[row["coin"]].append(BookSnapshot(**{**row, **{key: tuple(row[key]) for key in (
            "bid_px", "bid_sz", "ask_px", "ask_sz")}}))
    _require_books(books)
    trades: dict[str, list[Trade]] = {coin: [] for coin in coins}
    for row in store.select("trades", "ts, recv_ts, id, coin, px, sz, side, tid, hash", where, params,
                            order_by="ts, coin, tid, id"):
        trades[row["coin"]].append(Trade(**row))
    return books, trades


def check_recording(recording: Recording, coins: Sequence[str], start_ms: int | None = None,
                    end_ms: int | None = None) -> list[DataProblem]:
    """Name the holes, late starts, early ends and hours without funding; raise for a coin with no bar at all.

    Examples
    --------
    >>> from pairflow.events import Candle
    >>> def candle(ts):
    ...     return bar_of(Candle(ts=ts, recv_ts=ts, id=str(ts), coin="ETH", interval="1h", close_ts=ts + HOUR_MS - 1,
    ...                          open=1.0, high=1.0, low=1.0, close=1.0, volume=0.0, trades=0))
    >>> rec = Recording("1h", HOUR_MS, {"ETH": [candle(0), candle(HOUR_MS), candle(4 * HOUR_MS)]})
    >>> [p.describe() for p in check_recording(rec, ["ETH"])][:1]
    ['hole: ETH 1970-01-01T02:00:00Z .. 1970-01-01T04:00:00Z (2 bars missing)']
    """
    step = recording.interval_ms
    empty = [coin for coin in coins if not recording.bars.get(coin)]
    if empty:
        window = f"{iso(start_ms) if start_ms is not None else 'start'} .. {iso(end_ms) if end_ms is not None else 'end'}"
        raise ReplayError(f"no {recording.interval} bars for {', '.join(empty)} in {window}")
    first = min(series[0].ts for series in recording.bars.values())
    last = max(series[-1].ts for series in recording.bars.values())
    problems: list[DataProblem] = []
    funded: dict[str, set[int]] = {}
    for rate in recording.funding:
        funded.setdefault(rate.coin, set()).add(rate.ts // HOUR_MS * HOUR_MS)
    for coin in coins:
        series = recording.bars[coin]
        if series[0].ts > first:
            problems.append(DataProblem("starts late", coin, first, series[0].ts, "no bars before"))
        if series[-1].ts < last:
            problems.append(DataProblem("ends early", coin, series[-1].ts + step, last + step, "no bars after"))
        for before, after in zip(series, series[1:]):
            if after.ts - before.ts > step:
                missing = (after.ts - before.ts) // step - 1
                problems.append(DataProblem("hole", coin, before.ts + step, after.ts, f"{missing} bars missing"))
        hours = funded.get(coin, set())
        problems += _funding_holes(coin, series[0].ts, series[-1].ts + step, hours)
    return problems


def _funding_holes(coin: str, start_ms: int, end_ms: int, hours: set[int]) -> list[DataProblem]:
    out: list[DataProblem] = []
    hole_start = None
    hour = (start_ms + HOUR_MS - 1) // HOUR_MS * HOUR_MS
    while hour <= end_ms:
        if hour not in hours and hole_start is None:
            hole_start = hour
        elif hour in hours and hole_start is not None:
            out.append(DataProblem("no funding", coin, hole_start, hour - HOUR_MS, "charged nothing"))
            hole_start = None
        hour += HOUR_MS
    if hole_start is not None:
        out.append(DataProblem("no funding", coin, hole_start, hour - HOUR_MS, "charged nothing"))
    return out


def replay(recording: Recording) -> Iterator[tuple[int, list[Bar | Funding | BookSnapshot]]]:
    """Yield ``(event_ms, events)`` in event-time order: funding and book snapshots at their stamp, a bar at its close.

    Recorded trades are not yielded: only the simulated market reads them (`sinks.book_fills`).

    Examples
    --------
    >>> from pairflow.events import Candle
    >>> c = Candle(ts=0, recv_ts=0, id="a", coin="ETH", interval="1h", close_ts=HOUR_MS - 1,
    ...            open=1.0, high=1.0, low=1.0, close=1.0, volume=0.0, trades=0)
    >>> f = Funding(ts=HOUR_MS + 68, recv_ts=0, id="f", coin="ETH", rate=1e-5)
    >>> [(ms, [type(e).__name__ for e in events]) for ms, events in replay(Recording("1h", HOUR_MS, {"ETH": [bar_of(c)]}, [f]))]
    [(3600000, ['Bar']), (3600068, ['Funding'])]
    """
    step = recording.interval_ms
    keyed: list[tuple[int, int, str, Bar | Funding | BookSnapshot]] = [
        (bar.ts + step, 1, bar.coin, bar) for series in recording.bars.values() for bar in series]
    keyed += [(rate.ts, 0, rate.coin, rate) for rate in recording.funding]
    keyed += [(book.ts, 2, book.coin, book) for series in recording.books.values() for book in series]
    keyed.sort(key=lambda item: item[:3])
    group: list[Bar | Funding | BookSnapshot] = []
    current = None
    for event_ms, _, _, event in keyed:
        if event_ms != current and group:
            yield current, group  # type: ignore[misc]
            group = []
        current = event_ms
        group.append(event)
    if group:
        yield current, group  # type: ignore[misc]
