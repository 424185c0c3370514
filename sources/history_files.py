"""Read external OHLCV and funding history (CSV or Parquet) into validated events.

Three layouts are recognised from the header:

* long candles: ``timestamp, coin, open, high, low, close, volume``;
* long funding: ``timestamp, coin, funding_rate`` (a rate per funding period);
* wide closes: a date/time column (``timestamp``, ``date``, ``time`` or
  ``datetime``) then one column of closing prices per symbol; every bar gets
  open = high = low = close and volume 0 (a wide file carries no volume), and
  an empty cell means the symbol has no bar at that time.

Column order and case do not matter. Timestamps may be ISO 8601 (UTC unless a
zone is given), ``yyyymmdd`` (text or an 8-digit integer), or epoch seconds or
milliseconds. The bar interval
is inferred as the smallest step between a coin's bars and must be a whole
number of seconds from 1 s to 1 d; every step must be a multiple of it.

Anything else is refused with one line naming the file, the line (row 1 is the
header; Parquet rows are counted the same way), the column and the value: a
wrong or missing column, rows out of time order or repeated, a price that is
not a positive number, a negative volume, a low above the high.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from pairflow.errors import PairflowError
from pairflow.events import Candle, Funding

__all__ = ["HistoryFile", "ImportFileError", "read_history_file"]

CANDLE_COLUMNS = ("timestamp", "coin", "open", "high", "low", "close", "volume")
FUNDING_COLUMNS = ("timestamp", "coin", "funding_rate")
TIME_COLUMNS = ("timestamp", "date", "time", "datetime")
SECOND_MS = 1_000
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
_PROGRESS_EVERY = 5_000

Progress = Callable[[int], None]


class ImportFileError(PairflowError):
    """Raise for a history file that cannot be imported as it is; the message names file, line and value."""

    exit_code = 2  # the file the user named is unusable: bad input, not a failure while running

    def __init__(self, path: Path, line: int, problem: str) -> None:
        # Line 0 means the file as a whole (missing, unreadable, wrong type): no line to name.
        super().__init__(f"{path}:{line}: {problem}" if line else f"{path}: {problem}")
        self.path = path
        self.line = line


@dataclass
class HistoryFile:
    """What a file held: its kind and layout, the bar interval, and the events to store."""

    path: Path
    kind: Literal["candles", "funding"]
    layout: Literal["long", "wide"]
    interval: str | None
    candles: list[Candle] = field(default_factory=list)
    funding: list[Funding] = field(default_factory=list)

    @property
    def events(self) -> list[Candle] | list[Funding]:
        """Return the events to store."""
        return self.candles if self.kind == "candles" else self.funding

    @property
    def coins(self) -> list[str]:
        """Return the coins in the file, sorted."""
        return sorted({event.coin for event in self.events})


def read_history_file(path: Path, progress: Progress | None = None) -> HistoryFile:
    """Read and validate one CSV or Parquet history file.

    Parameters
    ----------
    path
        A ``.csv`` or ``.parquet`` file.
    progress
        Called now and then with the number of data rows read so far.

    Raises
    ------
    ImportFileError
        Naming the file, the line and the value at fault.
    """
    path = Path(path)
    header, names, rows = open_columns(path)
    if "coin" in names:
        expected = FUNDING_COLUMNS if "funding_rate" in names else CANDLE_COLUMNS
        missing = [name for name in expected if name not in names]
        unexpected = [name for name in names if name not in expected]
        if missing or unexpected:
            raise ImportFileError(
                path, 1, f"columns were {', '.join(names)}; expected {', '.join(expected)}"
                + (f" (unexpected: {', '.join(unexpected)})" if unexpected else "")
                + (f" (missing: {', '.join(missing)})" if missing else "")
            )
        order = [names.index(name) for name in expected]
        if expected is FUNDING_COLUMNS:
            return _read_funding(path, rows, order, progress)
        return _read_long_candles(path, rows, order, progress)
    if names and names[0] in TIME_COLUMNS and len(names) > 1:
        for name in header[1:]:
            if not _SYMBOL.match(str(name).strip()):
                raise ImportFileError(path, 1, f"column {str(name)!r} is not a symbol name")
        return _read_wide(path, [str(name).strip() for name in header[1:]], rows, progress)
    raise ImportFileError(
        path, 1, f"columns were {', '.join(names) or '(none)'}; expected {', '.join(CANDLE_COLUMNS)}, or "
        f"{', '.join(FUNDING_COLUMNS)}, or a date/time column ({'/'.join(TIME_COLUMNS)}) then one column per symbol"
    )


def open_columns(path: Path) -> tuple[list[Any], list[str], Iterator[tuple[int, Sequence[Any]]]]:
    """Open a CSV or Parquet file: its header, the header's names in lower case, and its numbered rows.

    A missing or unreadable file, or a column named twice, raises `ImportFileError`.
    """
    header, rows = _open(path)
    names = [str(name).strip().lower() for name in header]
    if len(set(names)) != len(names):
        repeated = next(name for name in names if names.count(name) > 1)
        raise ImportFileError(path, 1, f"column {repeated!r} appears twice")
    return header, names, rows


def _open(path: Path) -> tuple[list[Any], Iterator[tuple[int, Sequence[Any]]]]:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ImportFileError(path, 0, "file was not found")
    if suffix == ".parquet":
        return _open_parquet(path)
    if suffix not in (".csv", ".txt"):
        raise ImportFileError(path, 0, f"file type {suffix or '(none)'!r} is not supported; use .csv or .parquet")
    handle = path.open(newline="", encoding="utf-8-sig")
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        handle.close()
        raise ImportFileError(path, 1, "file was empty") from None
    except (csv.Error, UnicodeDecodeError) as error:
        handle.close()
        raise ImportFileError(path, 1, f"header could not be read: {error}") from None

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        with handle:
            try:
                for row in reader:
                    if row:
                        yield reader.line_num, row
            except (csv.Error, UnicodeDecodeError) as error:
                raise ImportFileError(path, reader.line_num + 1, f"row could not be read: {error}") from None

    return header, rows()


def _open_parquet(path: Path) -> tuple[list[Any], Iterator[tuple[int, Sequence[Any]]]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        names = list(table.column_names)  # a damaged file can read and still hold a name that is not UTF-8
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    except Exception as error:  # pyarrow raises several unrelated types for a bad file
        raise ImportFileError(path, 0, f"Parquet file could not be read: {error}") from None  # folded to one line
    return names, ((i + 2, row) for i, row in enumerate(zip(*columns)))


def _time_ms(path: Path, line: int, value: Any) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000)
    text = str(value).strip()
    if isinstance(value, int) or text.isdigit():
        if len(text) == 8:  # yyyymmdd; as epoch seconds it would be a day in 1970-73
            return _time_ms(path, line, _yyyymmdd(path, line, text))
        number = int(text)
        return number * 1000 if number < 100_000_000_000 else number
    try:
        return _time_ms(path, line, datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise ImportFileError(path, line, f"timestamp {text!r} is not ISO 8601, yyyymmdd or epoch time") from None


def _yyyymmdd(path: Path, line: int, text: str) -> date:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise ImportFileError(path, line, f"timestamp {text!r} is not a valid yyyymmdd date") from None


def _number(path: Path, line: int, column: str, value: Any, rule: str = "") -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ImportFileError(path, line, f"{column} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ImportFileError(path, line, f"{column} {value!r} is not a finite number")
    if rule == "positive" and number <= 0:
        raise ImportFileError(path, line, f"{column} {value!r} is not a positive price")
    if rule == "non-negative" and number < 0:
        raise ImportFileError(path, line, f"{column} {value!r} is negative")
    return number


def _check_order(path: Path, line: int, coin: str, ts: int, last: dict[str, tuple[int, int]]) -> None:
    previous = last.get(coin)
    if previous is not None:
        if ts == previous[0]:
            raise ImportFileError(path, line, f"{coin} at {_iso(ts)} repeats the row on line {previous[1]}")
        if ts < previous[0]:
            raise ImportFileError(
                path, line, f"{coin} at {_iso(ts)} is before line {previous[1]} ({_iso(previous[0])}); rows must be sorted by time"
            )
    last[coin] = (ts, line)


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _interval_label(step_ms: int) -> str:
    for unit_ms, suffix in ((DAY_MS, "d"), (HOUR_MS, "h"), (60_000, "m")):
        if step_ms % unit_ms == 0:
            return f"{step_ms // unit_ms}{suffix}"
    return f"{step_ms // SECOND_MS}s"


def _interval(path: Path, bars: dict[str, list[tuple[int, int]]]) -> int:
    """Return the smallest step between a coin's bars after checking every step is a multiple of it."""
    steps = [(b[0] - a[0], b[1]) for series in bars.values() for a, b in zip(series, series[1:])]
    if not steps:
        raise ImportFileError(path, 2, "at least two bars of one coin are needed to infer the bar interval")
    interval = min(step for step, _ in steps)
    if interval % SECOND_MS or not SECOND_MS <= interval <= DAY_MS:
        line = next(line for step, line in steps if step == interval)
        raise ImportFileError(path, line, f"bar interval {interval} ms is not a whole number of seconds from 1s to 1d")
    for step, line in steps:
        if step % interval:
            raise ImportFileError(path, line, f"step of {step} ms is not a multiple of the {_interval_label(interval)} bar interval")
    return interval


def _candle(coin: str, ts: int, interval_ms: int, label: str, o: float, h: float, low: float, c: float, v: float) -> Candle:
    # recv_ts = close time: a bar collected live (received later) wins over an imported copy.
    close_ts = ts + interval_ms - 1
    return Candle(id=f"{coin}:{label}:{ts}", coin=coin, interval=label, ts=ts, close_ts=close_ts, recv_ts=close_ts,
                  open=o, high=h, low=low, close=c, volume=v, trades=0)


def _tick(progress: Progress | None, count: int) -> None:
    if progress is not None and count % _PROGRESS_EVERY == 0:
        progress(count)


def _fields(path: Path, line: int, row: Sequence[Any], width: int) -> None:
    if len(row) != width:
        raise ImportFileError(path, line, f"row had {len(row)} fields; the header has {width}")


def _read_long_candles(path: Path, rows: Iterator[tuple[int, Sequence[Any]]], order: list[int],
                       progress: Progress | None) -> HistoryFile:
    width = len(CANDLE_COLUMNS)
    parsed: list[tuple[str, int, float, float, float, float, float]] = []
    last: dict[str, tuple[int, int]] = {}
    bars: dict[str, list[tuple[int, int]]] = {}
    for count, (line, row) in enumerate(rows, 1):
        _fields(path, line, row, width)
        ts_raw, coin_raw, *values = (row[i] for i in order)
        coin = str(coin_raw).strip()
        if not _SYMBOL.match(coin):
            raise ImportFileError(path, line, f"coin {coin_raw!r} is not a symbol name")
        ts = _time_ms(path, line, ts_raw)
        o, h, low, c = (_number(path, line, name, value, "positive") for name, value in zip(CANDLE_COLUMNS[2:6], values))
        v = _number(path, line, "volume", values[4], "non-negative")
        if low > min(o, c, h) or h < max(o, c):
            raise ImportFileError(path, line, f"{coin} bar open {o}, high {h}, low {low}, close {c} is inconsistent")
        _check_order(path, line, coin, ts, last)
        bars.setdefault(coin, []).append((ts, line))
        parsed.append((coin, ts, o, h, low, c, v))
        _tick(progress, count)
    interval = _interval(path, bars)
    label = _interval_label(interval)
    candles = [_candle(coin, ts, interval, label, o, h, low, c, v) for coin, ts, o, h, low, c, v in parsed]
    return HistoryFile(path, "candles", "long", label, candles=candles)


def _read_wide(path: Path, symbols: list[str], rows: Iterator[tuple[int, Sequence[Any]]],
               progress: Progress | None) -> HistoryFile:
    width = len(symbols) + 1
    parsed: list[tuple[str, int, float]] = []
    last: dict[str, tuple[int, int]] = {}
    bars: dict[str, list[tuple[int, int]]] = {}
    for count, (line, row) in enumerate(rows, 1):
        _fields(path, line, row, width)
        ts = _time_ms(path, line, row[0])
        _check_order(path, line, "row", ts, last)
        for symbol, value in zip(symbols, row[1:]):
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            parsed.append((symbol, ts, _number(path, line, symbol, value, "positive")))
            bars.setdefault(symbol, []).append((ts, line))
        _tick(progress, count)
    interval = _interval(path, bars)
    label = _interval_label(interval)
    candles = [_candle(coin, ts, interval, label, c, c, c, c, 0.0) for coin, ts, c in parsed]
    candles.sort(key=lambda candle: (candle.coin, candle.ts))
    return HistoryFile(path, "candles", "wide", label, candles=candles)


def _read_funding(path: Path, rows: Iterator[tuple[int, Sequence[Any]]], order: list[int],
                  progress: Progress | None) -> HistoryFile:
    width = len(FUNDING_COLUMNS)
    funding: list[Funding] = []
    last: dict[str, tuple[int, int]] = {}
    hours: dict[str, tuple[int, int]] = {}
    for count, (line, row) in enumerate(rows, 1):
        _fields(path, line, row, width)
        ts_raw, coin_raw, rate_raw = (row[i] for i in order)
        coin = str(coin_raw).strip()
        if not _SYMBOL.match(coin):
            raise ImportFileError(path, line, f"coin {coin_raw!r} is not a symbol name")
        ts = _time_ms(path, line, ts_raw)
        rate = _number(path, line, "funding_rate", rate_raw)
        _check_order(path, line, coin, ts, last)
        hour = ts // HOUR_MS * HOUR_MS
        _check_order(path, line, coin, hour, hours)
        funding.append(Funding(id=f"{coin}:{hour}", coin=coin, ts=ts, recv_ts=ts, rate=rate))
        _tick(progress, count)
    if not funding:
        raise ImportFileError(path, 2, "file had no data rows")
    return HistoryFile(path, "funding", "long", None, funding=funding)
