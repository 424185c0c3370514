"""The collector's REST side: periodic polls, and refetching candles and funding after a gap.

``metaAndAssetCtxs`` (md.ctx, and md.delistings for a collected coin it
marks delisted), ``fundingHistory`` (md.funding) and ``userFees`` (md.fees)
are polled on their own cadences. Candles and funding
are the two streams with a REST history, so a span the WebSocket missed is
fetched again here, through the same `sources.pager.HistoryPager` that
``pairflow backfill`` uses; rows carry stable ids, so a reader deduplicates
any overlap with what the stream delivered. A failed request is logged and
counted and never stops collection: the caller learns it from the return
value and records the span as unfilled.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pairflow.config import CollectorSettings
from pairflow.errors import ParseError
from pairflow.events import AssetContext, Delisting
from pairflow.hyperliquid import parse
from pairflow.hyperliquid.client import HyperliquidError, InfoClient
from pairflow.hyperliquid.schemas import candle_interval_ms
from pairflow.logs import get_logger
from pairflow.metrics import COLLECTOR_REST_ERRORS
from sources.output import Output
from sources.pager import HistoryPager, candle_pager, funding_pager

__all__ = ["RestPollers", "every"]

_log = get_logger("sources.collector")
_FUNDING_LOOKBACK_MS = 2 * 3_600_000
_RAW_SHOWN = 500


def _contexts_and_delistings(raw: Any, recv_ts: int) -> list[AssetContext | Delisting]:
    return [*parse.parse_meta_and_asset_ctxs(raw, recv_ts), *parse.parse_delisted(raw, recv_ts)]
T = TypeVar("T")


async def every(period_s: float, action: Callable[[], Awaitable[Any]], stop: asyncio.Event) -> None:
    """Run ``action`` now and then every ``period_s`` seconds until ``stop`` is set."""
    while not stop.is_set():
        await action()
        try:
            await asyncio.wait_for(stop.wait(), timeout=period_s)
        except TimeoutError:
            pass


class RestPollers:
    """Poll and refetch the REST streams of ``coins`` into ``out``.

    Parameters
    ----------
    info
        REST client (its token bucket paces the requests).
    settings
        Candle interval and the fee schedule's user.
    coins
        The collected coins; the list is read at each poll, so it may be filled in later.
    out
        Where events go.
    clock
        Millisecond clock for receive times and the first funding poll's lookback.
    """

    def __init__(
        self, info: InfoClient, settings: CollectorSettings, coins: list[str], out: Output, clock: Callable[[], int]
    ) -> None:
        self.info = info
        self.settings = settings
        self.coins = coins
        self.out = out
        self.clock = clock
        self._candles = candle_pager(info, settings.candle_interval)
        self._funding = funding_pager(info)
        self._funding_since: dict[str, int] = {}
        self._delisted: set[str] = set()

    async def poll_contexts(self) -> None:
        """Fetch ``metaAndAssetCtxs``; emit the collected coins' contexts on ``md.ctx``, their delistings on ``md.delistings``.

        A delisting is emitted once per collector run (its id is stable, so a
        restart's repeat collapses in the store).
        """
        events = await self._rest("metaAndAssetCtxs", self.info.meta_and_asset_ctxs(), _contexts_and_delistings)
        if events is None:
            return
        wanted = set(self.coins)
        for event in events:
            if event.coin in wanted and event.id not in self._delisted:
                self.out.emit(event)
                if type(event) is Delisting:
                    self._delisted.add(event.id)

    async def poll_funding(self) -> None:
        """Fetch funding rows newer than the last one seen per coin and emit them on ``md.funding``."""
        for coin in self.coins:
            since = self._funding_since.get(coin, self.clock() - _FUNDING_LOOKBACK_MS)
            call = self.info.funding_history(coin, since)
            rows = await self._rest("fundingHistory", call, parse.parse_funding_history)
            for row in rows or ():
                self.out.emit(row)
                self._funding_since[coin] = max(self._funding_since.get(coin, 0), row.ts + 1)

    async def poll_fees(self) -> None:
        """Fetch the fee schedule (of ``settings.fee_user``, else the public base tier) onto ``md.fees``."""
        fees = await self._rest("userFees", self.info.user_fees(self.settings.fee_user), parse.parse_user_fees)
        if fees is not None:
            self.out.emit(fees)

    async def candles(self, coin: str, start_ms: int, end_ms: int) -> bool:
        """Emit every candle of ``coin`` opening in ``[start_ms, end_ms]`` (from the start of its interval).

        Returns whether the whole span was fetched.
        """
        step = candle_interval_ms(self.settings.candle_interval)
        return await self._page(self._candles, coin, start_ms // step * step, end_ms)

    async def funding(self, coin: str, start_ms: int, end_ms: int) -> bool:
        """Emit every funding row of ``coin`` in ``[start_ms, end_ms]``; return whether all were fetched."""
        return await self._page(self._funding, coin, start_ms, end_ms)

    async def _page(self, pager: HistoryPager, coin: str, start_ms: int, end_ms: int) -> bool:
        complete = True
        try:
            async for window in pager.windows(coin, start_ms, end_ms, self.clock):
                self.out.received(pager.request)
                if window.rows is None:
                    self.out.skip(pager.request, f"{coin} {window.start_ms}..{window.end_ms}", window.error)
                    complete = False
                    continue
                for row in window.rows:
                    self.out.emit(row)
        except HyperliquidError as error:
            self._failed(pager.request, error)
            return False
        return complete

    async def _rest(self, request: str, call: Awaitable[Any], parser: Callable[[Any, int], T]) -> T | None:
        # One REST poll: a failed request is counted and logged, a malformed answer skipped with its reason.
        try:
            raw = await call
        except HyperliquidError as error:
            self._failed(request, error)
            return None
        self.out.received(request)
        try:
            return parser(raw, self.clock())
        except ParseError as error:
            self.out.skip(request, json.dumps(raw)[:_RAW_SHOWN], str(error))
            return None

    def _failed(self, request: str, error: HyperliquidError) -> None:
        COLLECTOR_REST_ERRORS.labels(request).inc()
        _log.error("REST request failed", request=request, error=str(error))
