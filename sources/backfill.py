"""Load historical candles and funding rates over REST into the ``candles`` and ``funding`` tables.

Requests go out in windows that hold at most 500 rows (the API's page size),
so the answer is the same whether the API pages from the start or from the
end of a range. Each window is stored before the next is fetched, which makes
the load resumable: a new run starts again at the last candle stored per
coin and interval (that candle is fetched again, because it may have been
stored while still forming) and after the last funding row stored per coin.
Both tables are ReplacingMergeTree keyed by coin and open time, so running
twice never leaves duplicates in ``FINAL`` reads. The REST client's token
bucket keeps the load inside the API's weight budget.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pairflow.clock import WALL_CLOCK
from pairflow.config import StorageSettings
from pairflow.errors import ParseError
from pairflow.events import Candle, Funding
from pairflow.hyperliquid import parse
from pairflow.hyperliquid.client import CANDLE_PAGE, InfoClient
from pairflow.logs import get_logger
from pairflow.metrics import counter
from pairflow.storage import BatchWriter, Store
from sources.gaps import interval_ms

__all__ = ["BackfillReport", "Progress", "backfill"]

HOUR_MS = 3_600_000
FUNDING_PAGE = 500

_ROWS = counter("pairflow_backfill_rows", "Rows fetched by REST backfill.", ["table"])
_SKIPPED = counter(
    "pairflow_backfill_skipped_pages", "Backfill pages skipped because they could not be parsed.", ["table"]
)
_log = get_logger(__name__)

Progress = Callable[[str, str, int, int, int], None]
"""``progress(coin, table, done_ms, total_ms, rows)`` is called after each stored window."""


@dataclass
class BackfillReport:
    """What one backfill run did, per coin."""

    candles: dict[str, int] = field(default_factory=dict)
    funding: dict[str, int] = field(default_factory=dict)
    resumed_from: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    skipped_pages: int = 0


async def backfill(
    store: Store,
    info: InfoClient,
    coins: list[str],
    start_ms: int,
    end_ms: int,
    interval: str = "1m",
    progress: Progress | None = None,
    storage: StorageSettings | None = None,
) -> BackfillReport:
    """Fetch candles of ``interval`` and hourly funding of ``coins`` over ``[start_ms, end_ms]`` into the store.

    Parameters
    ----------
    store
        Destination; its schema must be initialised.
    info
        REST client (its token bucket paces the requests).
    coins
        Coins to load, in order.
    start_ms, end_ms
        Time range, epoch milliseconds, both inclusive.
    interval
        Candle interval such as ``'1m'`` or ``'1h'``.
    progress
        Called after each stored window, e.g. to advance a progress bar.
    storage
        Writer settings (spill directory, retries).

    Returns
    -------
    BackfillReport
        Rows fetched per coin and table, and where each coin's candles resumed.

    Raises
    ------
    HyperliquidError
        When the API keeps failing after the client's retries; everything
        stored so far stays and the next run resumes from there.
    """
    if end_ms < start_ms:
        raise ValueError(f"backfill range ends ({end_ms}) before it starts ({start_ms})")
    step = interval_ms(interval)
    report = BackfillReport()
    candles = _Table(
        "candles",
        BatchWriter(store, "candles", settings=storage, background=False),
        window_ms=step * CANDLE_PAGE,
        page=CANDLE_PAGE,
        fetch=lambda coin, lo, hi: info.candle_snapshot(coin, interval, lo, hi),
        decode=parse.parse_candle_snapshot,
    )
    funding = _Table(
        "funding",
        BatchWriter(store, "funding", settings=storage, background=False),
        window_ms=HOUR_MS * FUNDING_PAGE,
        page=FUNDING_PAGE,
        fetch=info.funding_history,
        decode=parse.parse_funding_history,
    )
    try:
        for coin in coins:
            last_candle = _last_candle(store, coin, interval, start_ms, end_ms)
            first = start_ms if last_candle is None else last_candle
            report.resumed_from[coin] = first
            report.candles[coin] = await candles.load(coin, first, start_ms, end_ms, report, progress)
            last_rate = _last_funding(store, coin, start_ms, end_ms)
            first = start_ms if last_rate is None else last_rate + 1
            report.funding[coin] = await funding.load(coin, first, start_ms, end_ms, report, progress)
    finally:
        candles.writer.close()
        funding.writer.close()
    return report


@dataclass
class _Table:
    """How one table is paged in from REST."""

    name: str
    writer: BatchWriter
    window_ms: int
    page: int
    fetch: Callable[[str, int, int], Awaitable[Any]]
    decode: Callable[[Any, int], list[Candle] | list[Funding]]

    async def load(
        self, coin: str, first_ms: int, start_ms: int, end_ms: int, report: BackfillReport, progress: Progress | None
    ) -> int:
        rows = 0
        cursor = first_ms
        total = max(1, end_ms - start_ms)
        while cursor <= end_ms:
            window_end = min(end_ms, cursor + self.window_ms - 1)
            raw = await self.fetch(coin, cursor, window_end)
            report.requests += 1
            try:
                events = [event for event in self.decode(raw, WALL_CLOCK.now_ms()) if cursor <= event.ts <= window_end]
            except ParseError as error:
                report.skipped_pages += 1
                _SKIPPED.labels(self.name).inc()
                _log.error("backfill page skipped", coin=coin, table=self.name, start_ms=cursor, end_ms=window_end,
                           error=str(error))
                events = []
            self.writer.add_many(events)
            self.writer.flush()
            rows += len(events)
            _ROWS.labels(self.name).inc(len(events))
            full = isinstance(raw, list) and len(raw) >= self.page
            cursor = events[-1].ts + 1 if full and events else window_end + 1
            if progress is not None:
                progress(coin, self.name, min(cursor, end_ms) - start_ms, total, rows)
        return rows


def _last_candle(store: Store, coin: str, interval: str, start_ms: int, end_ms: int) -> int | None:
    rows = store.query(
        "SELECT max(ts), count() FROM candles WHERE coin = {coin:String} AND interval = {interval:String}"
        " AND ts >= {start:Int64} AND ts <= {end:Int64}",
        {"coin": coin, "interval": interval, "start": start_ms, "end": end_ms},
    )
    return int(rows[0][0]) if rows and rows[0][1] else None


def _last_funding(store: Store, coin: str, start_ms: int, end_ms: int) -> int | None:
    rows = store.query(
        "SELECT max(ts), count() FROM funding WHERE coin = {coin:String} AND ts >= {start:Int64} AND ts <= {end:Int64}",
        {"coin": coin, "start": start_ms, "end": end_ms},
    )
    return int(rows[0][0]) if rows and rows[0][1] else None
