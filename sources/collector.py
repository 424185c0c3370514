"""Collect Hyperliquid market data from the WebSocket and REST APIs into an ``emit`` callable.

The collector subscribes to ``trades``, ``l2Book``, ``bbo``, ``candle`` and
``activeAssetCtx`` for a set of coins and polls ``metaAndAssetCtxs``,
``fundingHistory`` and ``userFees`` over REST. Every event goes to an injected
``emit(topic, key, event)`` (`sources.output`), so the collector does not know
where its output ends up. It composes parts with one job each:

* `sources.ws_session.WsSession` keeps the subscriptions alive (keepalive,
  stale detection, reconnect with backoff);
* `sources.frames.FrameParser` turns frames into events, skipping bad ones;
* `sources.pollers.RestPollers` polls REST and refetches candles and funding;
* `sources.gaps.GapTracker` records what was missed and drops replayed trades.

A **hole** is a span of exchange time the stream did not see: a WebSocket
outage (from the last exchange timestamp before the drop), or, when the
collector starts with ``resume`` (the last trades an earlier run delivered),
the time it was not running. A hole ends at the first exchange timestamp
received afterwards; exchange time rather than the local clock, because a
simulated venue's clock need not be the machine's. Then the coin's trade gap
awaits the trades the venue replays on subscribe (`sources.gaps.trade_gap`),
candles and funding of the hole are fetched again over REST in the
background, and books and contexts, which have no history, are recorded as
unfilled gaps.

Lag (``pairflow_collector_lag_seconds``) is receive time minus exchange time
of trades, books and BBOs, so ``clock`` must be the clock the exchange stamps
with: the wall clock for Hyperliquid, the venue's simulated clock when it runs
in the same process (the demo). The trades a (re)subscription replays are
history, not lag, and are left out.

An ``activeAssetCtx`` frame carries no time: it is stamped with the time of
the newest ``l2Book`` of its coin received before it (its receive time until
there is one). A venue that publishes after every market step
(``venue.book_every_step``) sends a step's context right after that step's
book, so the stamp is the step of the oracle it carries, which a replay needs
to settle each hour's funding at the oracle the venue used.

``emit`` runs on the event loop; a blocking emit (a full producer buffer)
pauses collection, which is the intended backpressure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import msgspec

from pairflow.clock import WALL_CLOCK
from pairflow.config import CollectorSettings
from pairflow.events import Event
from pairflow.hyperliquid import parse
from pairflow.hyperliquid.client import InfoClient
from pairflow.logs import get_logger
from pairflow.metrics import COLLECTOR_LAG_SECONDS
from sources.frames import FrameParser
from sources.gaps import UNFILLABLE_STREAMS, GapTracker, LastTrade
from sources.output import Emit, Output
from sources.pollers import RestPollers, every
from sources.ws_session import WsSession

__all__ = ["Collector", "top_coins"]

_log = get_logger(__name__)
_EXCHANGE_STAMPED = frozenset(("trades", "l2Book", "bbo"))
_STAMPED_NOW = frozenset(("l2Book", "bbo"))  # stamped with the exchange's current time, not a past trade's


def top_coins(meta_and_ctxs: Any, n: int) -> list[str]:
    """Return the ``n`` listed perpetuals with the highest 24h notional volume.

    Raises
    ------
    ParseError
        When the ``metaAndAssetCtxs`` answer is malformed.
    """
    contexts = parse.parse_meta_and_asset_ctxs(meta_and_ctxs, 0)
    ranked = sorted(contexts, key=lambda ctx: ctx.day_ntl_vlm, reverse=True)
    return [ctx.coin for ctx in ranked[:n]]


class _Hole(NamedTuple):
    coin: str
    start_ms: int
    end_ms: int


class Collector:
    """Stream market data of a set of coins into ``emit``.

    Parameters
    ----------
    emit
        ``emit(topic, key, event)``; key is the coin (``"*"`` for the fee schedule).
    settings
        URL, coins, candle interval, keepalive, staleness, backoff and poll cadences.
    coins
        Coins to collect; overrides ``settings.coins``. When both are empty the
        top ``settings.top_n`` coins by 24h notional volume are chosen at start.
    info
        REST client to use (shares a rate-limit bucket with other users; the
        caller closes it); one is created, and closed, for ``settings.url`` when None.
    clock
        Millisecond clock for receive times; give it the clock the exchange
        stamps with (the venue's, for a simulated venue) so lag is measured right.
    replay_wait_s
        Seconds to wait, once reading a new connection, for a coin's replayed
        trades before its trade gap is recorded as unfilled over the whole hole
        (the local venue sends no replay for a coin that never traded).
    resume
        Per coin, the last trades an earlier run delivered downstream: the
        span from there to the first exchange time received is a hole.
    """

    def __init__(
        self,
        emit: Emit,
        settings: CollectorSettings | None = None,
        coins: list[str] | None = None,
        info: InfoClient | None = None,
        clock: Callable[[], int] = WALL_CLOCK.now_ms,
        replay_wait_s: float = 5.0,
        resume: Mapping[str, LastTrade] | None = None,
    ) -> None:
        self.settings = settings or CollectorSettings()
        self.coins: list[str] = list(coins or self.settings.coins)
        self.clock = clock
        self.replay_wait_s = replay_wait_s
        self.info = info or InfoClient(self.settings.url)
        self._owns_info = info is None
        self.out = Output(emit)
        self.gaps = GapTracker(self.out, clock, self._exchange_now)
        self.frames = FrameParser(self.out, self.settings.book_levels)
        self.rest = RestPollers(self.info, self.settings, self.coins, self.out, clock)
        self.session = WsSession(
            self.settings, self.subscriptions, self.handle_frame, self._connection_lost, self._subscribed, clock
        )
        self._exchange_ms: int | None = None
        self._book_ms: dict[str, int] = {}  # newest l2Book time per coin: the stamp of its next activeAssetCtx
        self._hole_starts: dict[str, int] = {}
        self._holes: asyncio.Queue[_Hole] = asyncio.Queue()
        self._refetching: list[_Hole] = []
        self._replay_deadline = float("inf")
        self._subscribed_since_lost = False
        self._replay_pending: set[str] = set()
        for coin, last in (resume or {}).items():
            self.gaps.resume(coin, last)
            self._hole_starts[coin] = last.ts

    @property
    def subscriptions(self) -> list[dict[str, Any]]:
        """Return the subscription objects sent on every (re)connect."""
        subs: list[dict[str, Any]] = []
        for coin in self.coins:
            subs.append({"type": "trades", "coin": coin})
            subs.append({"type": "l2Book", "coin": coin})
            subs.append({"type": "bbo", "coin": coin})
            subs.append({"type": "candle", "coin": coin, "interval": self.settings.candle_interval})
            subs.append({"type": "activeAssetCtx", "coin": coin})
        return subs

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Collect until ``stop`` is set (forever when None), then close connections.

        Raises
        ------
        HyperliquidError
            When the coin set has to be discovered and REST cannot answer.
        Exception
            Whatever ``emit`` raised: a sink that fails stops the collector
            instead of silently losing events.
        """
        stop = stop or asyncio.Event()
        if not self.coins:
            self.coins[:] = top_coins(await self.info.meta_and_asset_ctxs(), self.settings.top_n)
            self.session.subscriptions = self.subscriptions
            _log.info("collecting top coins by volume", coins=self.coins)
        if self.settings.backfill_hours:
            start = self.clock() - self.settings.backfill_hours * 3_600_000
            for coin in self.coins:
                await self.rest.candles(coin, start, self.clock())
        settings = self.settings
        tasks = [
            asyncio.create_task(self.session.run(stop), name="collector-ws"),
            asyncio.create_task(self._refetch_holes(), name="collector-refetch"),
            asyncio.create_task(every(settings.ctx_poll_s, self.rest.poll_contexts, stop), name="collector-ctx"),
            asyncio.create_task(every(settings.funding_poll_s, self.rest.poll_funding, stop), name="collector-funding"),
            asyncio.create_task(every(settings.fees_poll_s, self.rest.poll_fees, stop), name="collector-fees"),
        ]
        stopped = asyncio.create_task(stop.wait(), name="collector-stop")
        try:
            done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopped and task.exception() is not None:
                    raise task.exception()
            self._settle_at_stop()
        finally:
            for task in (stopped, *tasks):
                task.cancel()
            await asyncio.gather(stopped, *tasks, return_exceptions=True)
            await self.session.drop()
            if self._owns_info:
                await self.info.close()

    def handle_frame(self, text: str, recv_ts: int) -> None:
        """Parse one raw WebSocket frame and emit its events; log, count and skip anything malformed."""
        if self.gaps.awaiting_replay and time.monotonic() >= self._replay_deadline:
            self.gaps.settle_unreplayed()
        channel, events = self.frames.parse(text, recv_ts)
        if not events:
            return
        stamped = channel in _EXCHANGE_STAMPED
        if stamped:
            newest = max(event.ts for event in events)
            if self._exchange_ms is None or newest > self._exchange_ms:
                self._exchange_ms = newest
            if self._hole_starts and self._subscribed_since_lost and channel in _STAMPED_NOW:
                self._close_holes(newest)
            if channel == "l2Book":
                self._book_ms[events[0].coin] = newest
        elif channel == "activeAssetCtx" and events[0].coin in self._book_ms:
            at = self._book_ms[events[0].coin]
            events = [msgspec.structs.replace(event, ts=at, id=f"{event.coin}:{at}") for event in events]
        if channel == "trades":
            replayed = events[0].coin in self._replay_pending
            self._replay_pending.discard(events[0].coin)
            events = self.gaps.fresh(events)
            stamped = not replayed
        if stamped:
            lag = COLLECTOR_LAG_SECONDS.labels(channel)
            for event in events:
                lag.observe(max(0, recv_ts - event.ts) / 1000)
        for event in events:
            self.out.emit(event)

    def _exchange_now(self) -> int:
        return self._exchange_ms if self._exchange_ms is not None else self.clock()

    def _connection_lost(self) -> None:
        self._subscribed_since_lost = False
        start = self._exchange_now()
        for coin in self.coins:
            self._hole_starts.setdefault(coin, start)

    def _subscribed(self) -> None:
        self._subscribed_since_lost = True
        self._replay_pending = set(self.coins)
        self._replay_deadline = time.monotonic() + self.replay_wait_s
        for coin, start in self._hole_starts.items():
            self.gaps.expect_replay(coin, start)

    def _close_holes(self, end_ms: int) -> None:
        starts, self._hole_starts = self._hole_starts, {}
        for coin, start in starts.items():
            hole = _Hole(coin, start, max(start, end_ms))
            self._refetching.append(hole)
            self._holes.put_nowait(hole)

    async def _refetch_holes(self) -> None:
        while True:
            hole = await self._holes.get()
            candles = await self.rest.candles(hole.coin, hole.start_ms, hole.end_ms)
            funding = await self.rest.funding(hole.coin, hole.start_ms, hole.end_ms)
            self._record_hole(hole, "" if candles else "candleSnapshot failed", "" if funding else "fundingHistory failed")
            self._refetching.remove(hole)

    def _record_hole(self, hole: _Hole, candles_failed: str, funding_failed: str) -> None:
        coin, start, end = hole
        self.gaps.record(coin, "candles", start, end, not candles_failed, candles_failed)
        self.gaps.record(coin, "funding", start, end, not funding_failed, funding_failed)
        for stream in UNFILLABLE_STREAMS:
            self.gaps.record(coin, stream, start, end, False, "no REST history while the stream was not received")

    def _settle_at_stop(self) -> None:
        for coin, start in self._hole_starts.items():
            self.gaps.expect_replay(coin, start)
        if self._hole_starts:
            self._close_holes(self._exchange_now())
        self.gaps.settle_unreplayed()
        stopped = "the collector stopped before refetching it"
        for hole in self._refetching:
            self._record_hole(hole, stopped, stopped)
        self._refetching.clear()
