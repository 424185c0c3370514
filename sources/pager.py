"""Page a REST history (candles, funding) in windows that each fit in one API page.

Hyperliquid answers ``candleSnapshot`` and ``fundingHistory`` with at most
500 rows, and whether a longer range is cut at its start or at its end is not
documented. Asking for windows that hold at most one page each makes the
answer the same either way. A window that still comes back full (funding rows
are not strictly hourly) is continued from just after its last row. The
collector (gap refetch, start-up backfill) and ``pairflow backfill`` page
through this one implementation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pairflow.errors import ParseError
from pairflow.events import Candle, Funding
from pairflow.hyperliquid import parse
from pairflow.hyperliquid.client import CANDLE_PAGE, InfoClient
from pairflow.hyperliquid.schemas import candle_interval_ms

__all__ = ["FUNDING_PAGE", "HOUR_MS", "HistoryPager", "Window", "candle_pager", "funding_pager"]

HOUR_MS = 3_600_000
FUNDING_PAGE = 500


class Window(NamedTuple):
    """One answered window: its bounds, the rows in it (None when unparseable) and the parse error."""

    start_ms: int
    end_ms: int
    rows: Sequence[Candle] | Sequence[Funding] | None
    error: str


@dataclass(frozen=True)
class HistoryPager:
    """How one REST history is paged.

    Parameters
    ----------
    request
        The request name, for logs and metrics (``candleSnapshot``, ``fundingHistory``).
    fetch
        ``fetch(coin, start_ms, end_ms)`` returning the raw answer; it raises
        `pairflow.hyperliquid.client.HyperliquidError` when the API fails.
    decode
        ``decode(raw, recv_ts)`` returning events; raises ParseError on a bad answer.
    window_ms
        Span that holds at most ``page`` rows.
    page
        The API's page size.
    """

    request: str
    fetch: Callable[[str, int, int], Awaitable[Any]]
    decode: Callable[[Any, int], Sequence[Candle] | Sequence[Funding]]
    window_ms: int
    page: int

    async def windows(self, coin: str, first_ms: int, end_ms: int, now: Callable[[], int]) -> AsyncIterator[Window]:
        """Yield every window of ``[first_ms, end_ms]`` (both inclusive) of ``coin``, oldest first.

        A window whose answer cannot be parsed is yielded with ``rows=None``
        and paging goes on with the next window.
        """
        cursor = first_ms
        while cursor <= end_ms:
            window_end = min(end_ms, cursor + self.window_ms - 1)
            raw = await self.fetch(coin, cursor, window_end)
            try:
                rows = [row for row in self.decode(raw, now()) if cursor <= row.ts <= window_end]
            except ParseError as error:
                yield Window(cursor, window_end, None, str(error))
                cursor = window_end + 1
                continue
            yield Window(cursor, window_end, rows, "")
            full = isinstance(raw, list) and len(raw) >= self.page
            cursor = rows[-1].ts + 1 if full and rows else window_end + 1


def candle_pager(info: InfoClient, interval: str) -> HistoryPager:
    """Return the pager of ``interval`` candles over ``info``."""
    return HistoryPager(
        "candleSnapshot",
        lambda coin, start, end: info.candle_snapshot(coin, interval, start, end),
        parse.parse_candle_snapshot,
        candle_interval_ms(interval) * CANDLE_PAGE,
        CANDLE_PAGE,
    )


def funding_pager(info: InfoClient) -> HistoryPager:
    """Return the pager of hourly funding rows over ``info``."""
    return HistoryPager(
        "fundingHistory", info.funding_history, parse.parse_funding_history, HOUR_MS * FUNDING_PAGE, FUNDING_PAGE
    )
