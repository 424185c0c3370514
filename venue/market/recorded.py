"""Recorded hourly candles and funding rates, loaded from CSV files or the ClickHouse store.

CSV formats (as in the shared recordings)::

    timestamp,coin,open,high,low,close,volume        2024-09-04T11:00:00Z,BTC,56461.0,...
    timestamp,coin,funding_rate                      2024-09-01T00:00:00.068Z,BTC,1.25e-05

Bad rows are skipped with a count, never fatal; a file with no usable row is an error.
"""

from __future__ import annotations

import bisect
import csv
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["HOUR_MS", "RecordedMarketData", "load_csv", "load_directory", "load_store"]

HOUR_MS = 3_600_000


@dataclass
class RecordedMarketData:
    """Per-coin hourly candles ``(open_ms, open, high, low, close)`` and funding ``(ms, rate)``, sorted."""

    candles: dict[str, list[tuple[int, float, float, float, float]]] = field(default_factory=dict)
    funding: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    skipped_rows: int = 0

    @property
    def coins(self) -> list[str]:
        return sorted(self.candles)

    @property
    def start_ms(self) -> int:
        """Return the open time of the earliest candle."""
        return min(rows[0][0] for rows in self.candles.values())

    @property
    def end_ms(self) -> int:
        """Return the close time of the latest candle."""
        return max(rows[-1][0] for rows in self.candles.values()) + HOUR_MS

    def price_at(self, coin: str, ms: int) -> float | None:
        """Return the replayed price of `coin` at recorded time `ms`, or None before its first candle.

        Inside an hour the path visits open, then the extreme against the
        candle's direction, then the other extreme, then close, linearly in
        four equal quarters; after the last candle the last close holds.
        """
        rows = self.candles.get(coin)
        if not rows or ms < rows[0][0]:
            return None
        index = bisect.bisect_right(rows, (ms, float("inf"))) - 1
        start, open_, high, low, close = rows[index]
        if ms >= start + HOUR_MS:
            return close
        path = (open_, low, high, close) if close >= open_ else (open_, high, low, close)
        position = (ms - start) / HOUR_MS * 3.0
        leg = min(int(position), 2)
        weight = position - leg
        return path[leg] + (path[leg + 1] - path[leg]) * weight

    def funding_rate_for_hour(self, coin: str, ms: int) -> float | None:
        """Return the recorded rate settled at the end of the hour containing `ms`, if any."""
        rows = self.funding.get(coin)
        if not rows:
            return None
        hour_end = ms - ms % HOUR_MS + HOUR_MS
        index = bisect.bisect_left(rows, (hour_end, float("-inf")))
        if index < len(rows) and rows[index][0] - hour_end < HOUR_MS // 2:
            return rows[index][1]
        return None


def _parse_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def load_csv(candles_path: Path, funding_path: Path | None = None, coins: list[str] | None = None) -> RecordedMarketData:
    """Load a candle CSV and optionally a funding CSV, keeping only `coins` when given."""
    data = RecordedMarketData()
    wanted = set(coins) if coins else None
    for row in _read_rows(candles_path, ("timestamp", "coin", "open", "high", "low", "close")):
        try:
            coin = row["coin"]
            if wanted is not None and coin not in wanted:
                continue
            values = tuple(float(row[key]) for key in ("open", "high", "low", "close"))
            if min(values) <= 0:
                raise ValueError("non-positive price")
            data.candles.setdefault(coin, []).append((_parse_ms(row["timestamp"]), *values))
        except (KeyError, TypeError, ValueError):
            data.skipped_rows += 1
    if funding_path is not None:
        for row in _read_rows(funding_path, ("timestamp", "coin", "funding_rate")):
            try:
                coin = row["coin"]
                if wanted is not None and coin not in wanted:
                    continue
                data.funding.setdefault(coin, []).append((_parse_ms(row["timestamp"]), float(row["funding_rate"])))
            except (KeyError, TypeError, ValueError):
                data.skipped_rows += 1
    return _finish(data, str(candles_path))


def load_directory(directory: Path, coins: list[str] | None = None) -> RecordedMarketData:
    """Load ``perp_1h_ohlcv_*.csv`` (and ``perp_funding_1h_*.csv`` if present) from `directory`."""
    candle_files = sorted(Path(directory).glob("perp_1h_ohlcv_*.csv"))
    if not candle_files:
        raise ValueError(f"no perp_1h_ohlcv_*.csv file in {directory}")
    funding_files = sorted(Path(directory).glob("perp_funding_1h_*.csv"))
    return load_csv(candle_files[-1], funding_files[-1] if funding_files else None, coins)


def load_store(store: Any, coins: list[str] | None = None, start_ms: int | None = None, end_ms: int | None = None) -> RecordedMarketData:
    """Load 1h candles and funding from the ClickHouse store (`pairflow.storage.Store`)."""
    conditions, params = ["interval = '1h'"], {}
    if coins:
        conditions.append("coin IN {coins:Array(String)}")
        params["coins"] = list(coins)
    if start_ms is not None:
        conditions.append("ts >= {start:Int64}")
        params["start"] = int(start_ms)
    if end_ms is not None:
        conditions.append("ts < {end:Int64}")
        params["end"] = int(end_ms)
    data = RecordedMarketData()
    for row in store.select("candles", "ts, coin, open, high, low, close", " AND ".join(conditions), params, "coin, ts"):
        values = (float(row["open"]), float(row["high"]), float(row["low"]), float(row["close"]))
        if min(values) <= 0:
            data.skipped_rows += 1
            continue
        data.candles.setdefault(row["coin"], []).append((int(row["ts"]), *values))
    funding_conditions = [c for c in conditions if not c.startswith("interval")]
    for row in store.select("funding", "ts, coin, rate", " AND ".join(funding_conditions), params, "coin, ts"):
        data.funding.setdefault(row["coin"], []).append((int(row["ts"]), float(row["rate"])))
    return _finish(data, store.location)


def _read_rows(path: Path, required: tuple[str, ...]):
    try:
        handle = open(path, newline="")
    except OSError as error:
        raise ValueError(f"recording {path} could not be opened: {error.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [name for name in required if name not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"recording {path} lacks column(s) {', '.join(missing)}")
        yield from reader


def _finish(data: RecordedMarketData, source: str) -> RecordedMarketData:
    if not data.candles:
        raise ValueError(f"recording {source} holds no usable 1h candle")
    for rows in data.candles.values():
        rows.sort()
    for rows in data.funding.values():
        rows.sort()
    return data
