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

from collections.abc import Callable
from dataclasses import dataclass, field

from pairflow.clock import WALL_CLOCK
from pairflow.config import StorageSettings
from pairflow.hyperliquid.client import InfoClient
from pairflow.logs import get_logger
from pairflow.metrics import BACKFILL_ROWS, BACKFILL_SKIPPED_PAGES
from pairflow.storage import BatchWriter, Store
from sources.pager import HistoryPager, candle_pager, funding_pager

__all__ = ["BackfillReport", "Progress", "backfill"]

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
    report = BackfillReport()
    candles = _Table("candles", BatchWriter(store, "candles", settings=storage, background=False),
                     candle_pager(info, interval))
    funding = _Table("funding", BatchWriter(store, "funding", settings=storage, background=False),
                     funding_pager(info))
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
    """One table loaded window by window from its REST history."""

    name: str
    writer: BatchWriter
    pager: HistoryPager

    async def load(
        self, coin: str, first_ms: int, start_ms: int, end_ms: int, report: BackfillReport, progress: Progress | None
    ) -> int:
        rows = 0
        total = max(1, end_ms - start_ms)
        async for window in self.pager.windows(coin, first_ms, end_ms, WALL_CLOCK.now_ms):
            report.requests += 1
            if window.rows is None:
                report.skipped_pages += 1
                BACKFILL_SKIPPED_PAGES.labels(self.name).inc()
                _log.error("backfill page skipped", coin=coin, table=self.name, start_ms=window.start_ms,
                           end_ms=window.end_ms, error=window.error)
            else:
                self.writer.add_many(window.rows)
                self.writer.flush()
                rows += len(window.rows)
                BACKFILL_ROWS.labels(self.name).inc(len(window.rows))
            if progress is not None:
                progress(coin, self.name, min(window.end_ms + 1, end_ms) - start_ms, total, rows)
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
