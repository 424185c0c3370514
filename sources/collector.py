"""Collect Hyperliquid market data from the WebSocket and REST APIs into an ``emit`` callable.

The collector subscribes to ``trades``, ``l2Book``, ``bbo``, ``candle`` and
``activeAssetCtx`` for a set of coins and polls ``metaAndAssetCtxs``,
``fundingHistory`` and ``userFees`` over REST. Every event goes to an injected
``emit(topic, key, event)`` — a `sinks.kafka.KafkaSink` in distributed mode,
an in-process queue feeding the Bytewax flow in embedded mode — so the
collector does not know where its output ends up.

Robustness, in order of what goes wrong in practice:

* A frame that is not JSON, has an unknown channel or fails parsing is logged
  with its raw text, counted and skipped; the stream goes on.
* A keepalive ``{"method":"ping"}`` is sent every ``ping_interval_s``; when no
  frame (not even a ``pong``) arrives for ``stale_after_s`` the connection is
  considered dead and dropped.
* A dropped connection is re-opened with exponential backoff and jitter and
  every subscription is sent again. The recent trades a (re)subscription
  replays are emitted only if newer than the last trade already emitted.
* The span between the last frame before the outage and the resubscription
  is a gap: candles and funding are fetched again over REST (stable ids, so a
  reader deduplicates overlaps), and books and contexts — which have no REST
  history — are recorded as unfilled gaps. The trade gap of a coin is decided
  by `sources.gaps.trade_gap` on its first ``trades`` frame after the
  resubscription (the replay): filled when the replay reaches back to trades
  already emitted, else unfilled up to the oldest replayed trade; unfilled
  over the whole outage when no ``trades`` frame comes within ``replay_wait_s``.

``emit`` runs on the event loop; a blocking emit (a full producer buffer)
pauses collection, which is the intended backpressure.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from pairflow.clock import WALL_CLOCK
from pairflow.config import CollectorSettings
from pairflow.errors import ParseError
from pairflow.events import TOPIC_OF, AssetContext, Bbo, Candle, Event, L2Book, Trade
from pairflow.hyperliquid import parse
from pairflow.hyperliquid.client import HyperliquidError, InfoClient, WsConnection
from pairflow.hyperliquid.schemas import WS_CONNECTED_TEXT
from pairflow.logs import get_logger
from pairflow.metrics import counter, histogram
from sources.gaps import UNFILLABLE_STREAMS, Emit, GapRecorder, LastTrade, interval_ms, trade_gap

if TYPE_CHECKING:
    from pairflow.storage import BatchWriter

__all__ = ["Collector", "Emit", "top_coins"]

_log = get_logger(__name__)
_IN = counter("pairflow_collector_messages_in", "WebSocket frames and REST answers received.", ["channel"])
_OUT = counter("pairflow_collector_messages_out", "Events handed to emit.", ["topic"])
_MALFORMED = counter(
    "pairflow_collector_malformed", "Frames or records skipped because they could not be parsed.", ["channel"]
)
_RECONNECTS = counter("pairflow_collector_reconnects", "WebSocket reconnections after a drop or a stale stream.")
_REST_ERRORS = counter("pairflow_collector_rest_errors", "REST requests that failed after retries.", ["request"])
_LAG = histogram(
    "pairflow_collector_lag_seconds",
    "Receive time minus exchange time of WebSocket events.",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
_RAW_SHOWN = 500
_FUNDING_LOOKBACK_MS = 2 * 3_600_000
_CANDLE_PAGE = 500


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


class _AwaitedReplay(NamedTuple):
    outage_start: int
    outage_end: int
    last: LastTrade | None


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
    gap_writer
        `pairflow.storage.BatchWriter` for the ``gaps`` table; gaps are only
        emitted on ``md.gaps`` when None.
    info
        REST client to use (shares a rate-limit bucket with other users; the
        caller closes it); one is created, and closed, for ``settings.url`` when None.
    clock
        Millisecond wall clock used for receive times and gap bounds.
    replay_wait_s
        Seconds to wait, once reading a new connection, for a coin's replayed
        trades before its trade gap is recorded as unfilled over the whole outage
        (the local venue sends no replay for a coin that never traded).
    """

    def __init__(
        self,
        emit: Emit,
        settings: CollectorSettings | None = None,
        coins: list[str] | None = None,
        gap_writer: BatchWriter | None = None,
        info: InfoClient | None = None,
        clock: Callable[[], int] = WALL_CLOCK.now_ms,
        replay_wait_s: float = 5.0,
    ) -> None:
        self.settings = settings or CollectorSettings()
        self.emit = emit
        self.coins: list[str] = list(coins or self.settings.coins)
        self.clock = clock
        self.replay_wait_s = replay_wait_s
        self.info = info or InfoClient(self.settings.url)
        self._owns_info = info is None
        self.gaps = GapRecorder(emit, gap_writer)
        self.frames_in: Counter[str] = Counter()
        self.events_out: Counter[str] = Counter()
        self.malformed: Counter[str] = Counter()
        self.reconnects = 0
        self._connection: WsConnection | None = None
        self._last_frame_ms: int | None = None
        self._last_frame_mono = time.monotonic()
        self._funding_since: dict[str, int] = {}
        self._last_trade: dict[str, tuple[int, set[str]]] = {}
        self._awaiting_replay: dict[str, _AwaitedReplay] = {}

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
            self.coins = top_coins(await self.info.meta_and_asset_ctxs(), self.settings.top_n)
            _log.info("collecting top coins by volume", coins=self.coins)
        if self.settings.backfill_hours:
            start = self.clock() - self.settings.backfill_hours * 3_600_000
            await self.backfill_candles(start, self.clock())
        tasks = [
            asyncio.create_task(self._websocket_loop(stop), name="collector-ws"),
            asyncio.create_task(self._every(self.settings.ctx_poll_s, self.poll_contexts, stop), name="collector-ctx"),
            asyncio.create_task(
                self._every(self.settings.funding_poll_s, self.poll_funding, stop), name="collector-funding"
            ),
            asyncio.create_task(self._every(self.settings.fees_poll_s, self.poll_fees, stop), name="collector-fees"),
        ]
        stopped = asyncio.create_task(stop.wait(), name="collector-stop")
        try:
            done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopped and task.exception() is not None:
                    raise task.exception()
            self._settle_unreplayed()
        finally:
            for task in (stopped, *tasks):
                task.cancel()
            await asyncio.gather(stopped, *tasks, return_exceptions=True)
            await self.drop_connection()
            if self._owns_info:
                await self.info.close()

    async def drop_connection(self) -> None:
        """Close the current WebSocket (while running, the run loop then reconnects)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    def handle_frame(self, text: str, recv_ts: int) -> None:
        """Parse one raw WebSocket frame and emit its events; log, count and skip anything malformed."""
        if text == WS_CONNECTED_TEXT:
            self.frames_in["connected"] += 1
            return
        try:
            frame = msgspec.json.decode(text)
        except msgspec.DecodeError:
            self._skip("<not json>", text, "frame is not JSON")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("channel"), str):
            self._skip("<no channel>", text, "frame has no channel")
            return
        channel = frame["channel"]
        self.frames_in[channel] += 1
        _IN.labels(channel).inc()
        handler = self._handlers.get(channel)
        if handler is None:
            if channel not in ("pong", "subscriptionResponse"):
                self._skip(channel, text, "unexpected channel")
            return
        try:
            events = handler(self, frame.get("data"), recv_ts)
        except ParseError as error:
            self._skip(channel, text, str(error))
            return
        for event in events:
            if event.ts and channel != "activeAssetCtx":
                _LAG.labels(channel).observe(max(0, recv_ts - event.ts) / 1000)
            self._emit(event)

    async def poll_contexts(self) -> None:
        """Fetch ``metaAndAssetCtxs`` and emit the contexts of the collected coins on ``md.ctx``."""
        raw = await self._rest("metaAndAssetCtxs", self.info.meta_and_asset_ctxs())
        if raw is None:
            return
        try:
            contexts = parse.parse_meta_and_asset_ctxs(raw, self.clock())
        except ParseError as error:
            self._skip("metaAndAssetCtxs", json.dumps(raw)[:_RAW_SHOWN], str(error))
            return
        wanted = set(self.coins)
        for ctx in contexts:
            if ctx.coin in wanted:
                self._emit(ctx)

    async def poll_funding(self) -> None:
        """Fetch funding rows newer than the last one seen per coin and emit them on ``md.funding``."""
        for coin in self.coins:
            since = self._funding_since.get(coin, self.clock() - _FUNDING_LOOKBACK_MS)
            await self._fetch_funding(coin, since, None)

    async def poll_fees(self) -> None:
        """Fetch the fee schedule (of ``settings.fee_user``, else the public base tier) onto ``md.fees``."""
        raw = await self._rest("userFees", self.info.user_fees(self.settings.fee_user))
        if raw is None:
            return
        try:
            self._emit(parse.parse_user_fees(raw, self.clock()))
        except ParseError as error:
            self._skip("userFees", json.dumps(raw)[:_RAW_SHOWN], str(error))

    async def backfill_candles(self, start_ms: int, end_ms: int) -> dict[str, bool]:
        """Emit every candle of the collected coins opening in ``[start_ms, end_ms]``, fetched over REST.

        Returns, per coin, whether the whole span was fetched.
        """
        step = interval_ms(self.settings.candle_interval)
        done = {}
        for coin in self.coins:
            cursor = start_ms // step * step
            complete = True
            while cursor <= end_ms:
                raw = await self._rest(
                    "candleSnapshot",
                    self.info.candle_snapshot(coin, self.settings.candle_interval, cursor, end_ms),
                )
                if raw is None:
                    complete = False
                    break
                try:
                    candles = parse.parse_candle_snapshot(raw, self.clock())
                except ParseError as error:
                    self._skip("candleSnapshot", json.dumps(raw)[:_RAW_SHOWN], str(error))
                    complete = False
                    break
                for candle in candles:
                    self._emit(candle)
                if len(candles) < _CANDLE_PAGE:
                    break
                cursor = candles[-1].ts + step
            done[coin] = complete
        return done

    async def fill_gap(self, start_ms: int, end_ms: int) -> None:
        """Re-fetch candles and funding for ``[start_ms, end_ms]`` and record every stream's gap.

        The trade gap of each coin is recorded once its replayed trades arrive
        (or ``replay_wait_s`` after reading starts without them), so call this
        before reading the new connection.
        """
        self._expect_replay(start_ms, end_ms)
        now = self.clock()
        candles_done = await self.backfill_candles(start_ms, end_ms)
        for coin in self.coins:
            funding_done = await self._fetch_funding(coin, start_ms, end_ms)
            self.gaps.record(
                coin, "candles", start_ms, end_ms, candles_done[coin], now,
                "" if candles_done[coin] else "candleSnapshot failed",
            )
            self.gaps.record(
                coin, "funding", start_ms, end_ms, funding_done, now, "" if funding_done else "fundingHistory failed"
            )
            for stream in UNFILLABLE_STREAMS:
                self.gaps.record(coin, stream, start_ms, end_ms, False, now, "no REST history during WebSocket outage")

    def _expect_replay(self, start_ms: int, end_ms: int) -> None:
        # A coin still awaiting the replay of an earlier outage keeps that outage's start and last trade:
        # back-to-back outages make one trade gap.
        for coin in self.coins:
            awaited = self._awaiting_replay.get(coin)
            if awaited is not None:
                self._awaiting_replay[coin] = awaited._replace(outage_end=end_ms)
                continue
            seen = self._last_trade.get(coin)
            last = None if seen is None else LastTrade(seen[0], frozenset(seen[1]))
            self._awaiting_replay[coin] = _AwaitedReplay(start_ms, end_ms, last)

    def _settle_trade_gap(self, coin: str, replay: list[Trade] | None) -> None:
        awaited = self._awaiting_replay.pop(coin)
        gap = trade_gap(awaited.outage_start, awaited.outage_end, awaited.last, replay)
        self.gaps.record(coin, "trades", gap.start_ts, gap.end_ts, gap.filled, self.clock(), gap.reason)

    def _settle_unreplayed(self) -> None:
        for coin in list(self._awaiting_replay):
            self._settle_trade_gap(coin, None)

    async def _fetch_funding(self, coin: str, start_ms: int, end_ms: int | None) -> bool:
        raw = await self._rest("fundingHistory", self.info.funding_history(coin, start_ms, end_ms))
        if raw is None:
            return False
        try:
            rows = parse.parse_funding_history(raw, self.clock())
        except ParseError as error:
            self._skip("fundingHistory", json.dumps(raw)[:_RAW_SHOWN], str(error))
            return False
        for row in rows:
            self._emit(row)
            self._funding_since[coin] = max(self._funding_since.get(coin, 0), row.ts + 1)
        return True

    async def _websocket_loop(self, stop: asyncio.Event) -> None:
        attempt = 0
        outage_start: int | None = None
        while not stop.is_set():
            connection = WsConnection(self.settings.url, open_timeout_s=min(10.0, self.settings.stale_after_s))
            try:
                await connection.connect()
                for subscription in self.subscriptions:
                    await connection.subscribe(subscription)
            except HyperliquidError as error:
                _log.warning("websocket connect failed", error=str(error), attempt=attempt)
                await connection.close()
            else:
                self._connection = connection
                self._last_frame_mono = time.monotonic()
                _log.info("websocket subscribed", url=connection.url, subscriptions=len(self.subscriptions))
                if outage_start is not None:
                    await self.fill_gap(outage_start, self.clock())
                    outage_start = None
                attempt = 0
                await self._read(connection, stop)
                await self.drop_connection()
            if stop.is_set():
                return
            if outage_start is None:
                outage_start = self._last_frame_ms if self._last_frame_ms is not None else self.clock()
            self.reconnects += 1
            _RECONNECTS.inc()
            delay = min(self.settings.reconnect_backoff_max_s, self.settings.reconnect_backoff_s * 2**attempt)
            attempt += 1
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay * (0.5 + random.random()))
            except TimeoutError:
                pass

    async def _read(self, connection: WsConnection, stop: asyncio.Event) -> None:
        keepalive = asyncio.create_task(self._keepalive(connection))
        replay_deadline = time.monotonic() + self.replay_wait_s
        try:
            async for text in connection.frames():
                self._last_frame_mono = time.monotonic()
                self._last_frame_ms = self.clock()
                if self._awaiting_replay and self._last_frame_mono >= replay_deadline:
                    self._settle_unreplayed()
                self.handle_frame(text, self._last_frame_ms)
                if stop.is_set():
                    return
        finally:
            keepalive.cancel()
            await asyncio.gather(keepalive, return_exceptions=True)

    async def _keepalive(self, connection: WsConnection) -> None:
        ping_every = min(self.settings.ping_interval_s, self.settings.stale_after_s / 2)
        next_ping = time.monotonic() + ping_every
        while True:
            await asyncio.sleep(min(ping_every, self.settings.stale_after_s) / 4)
            now = time.monotonic()
            if now - self._last_frame_mono > self.settings.stale_after_s:
                _log.warning("websocket stale, reconnecting", silent_s=round(now - self._last_frame_mono, 1))
                await connection.close()
                return
            if now >= next_ping:
                next_ping = now + ping_every
                try:
                    await connection.ping()
                except HyperliquidError as error:
                    _log.warning("websocket ping failed", error=str(error))
                    await connection.close()
                    return

    async def _every(self, period_s: float, action: Callable[[], Any], stop: asyncio.Event) -> None:
        while not stop.is_set():
            await action()
            try:
                await asyncio.wait_for(stop.wait(), timeout=period_s)
            except TimeoutError:
                pass

    async def _rest(self, request: str, call: Any) -> Any:
        try:
            raw = await call
        except HyperliquidError as error:
            _REST_ERRORS.labels(request).inc()
            _log.error("REST request failed", request=request, error=str(error))
            return None
        self.frames_in[request] += 1
        _IN.labels(request).inc()
        return raw

    def _emit(self, event: Event) -> None:
        topic = TOPIC_OF[type(event)]
        self.emit(topic, getattr(event, "coin", "*"), event)
        self.events_out[topic] += 1
        _OUT.labels(topic).inc()

    def _skip(self, channel: str, raw: str, reason: str) -> None:
        self.malformed[channel] += 1
        _MALFORMED.labels(channel).inc()
        _log.error("skipped malformed market data", channel=channel, reason=reason, raw=raw[:_RAW_SHOWN])

    def _trades(self, data: Any, recv_ts: int) -> list[Trade]:
        trades = parse.parse_ws_trades(data, recv_ts)
        for coin in {trade.coin for trade in trades} & self._awaiting_replay.keys():
            self._settle_trade_gap(coin, [trade for trade in trades if trade.coin == coin])
        fresh = []
        for trade in trades:
            last_ts, ids_at_last = self._last_trade.get(trade.coin, (-1, set()))
            if trade.ts < last_ts or (trade.ts == last_ts and trade.id in ids_at_last):
                continue
            if trade.ts > last_ts:
                ids_at_last = set()
                self._last_trade[trade.coin] = (trade.ts, ids_at_last)
            ids_at_last.add(trade.id)
            fresh.append(trade)
        return fresh

    def _book(self, data: Any, recv_ts: int) -> list[L2Book]:
        book = parse.parse_l2_book(data, recv_ts)
        levels = self.settings.book_levels
        if len(book.bids) > levels or len(book.asks) > levels:
            book = msgspec.structs.replace(book, bids=book.bids[:levels], asks=book.asks[:levels])
        return [book]

    def _bbo(self, data: Any, recv_ts: int) -> list[Bbo]:
        return [parse.parse_bbo(data, recv_ts)]

    def _candle(self, data: Any, recv_ts: int) -> list[Candle]:
        return [parse.parse_candle(data, recv_ts)]

    def _context(self, data: Any, recv_ts: int) -> list[AssetContext]:
        return [parse.parse_active_asset_ctx(data, recv_ts)]

    _handlers: dict[str, Callable[[Collector, Any, int], list[Event]]] = {
        "trades": _trades,
        "l2Book": _book,
        "bbo": _bbo,
        "candle": _candle,
        "activeAssetCtx": _context,
    }

