"""Async clients for Hyperliquid's ``POST /info`` and ``/ws`` endpoints.

The HTTP client spends request weight from a token bucket sized like the
venue's per-IP budget (PROTOCOL §10: 1200 weight per minute), so a collector
and a backfill can run flat out without being answered with HTTP 429. Weight
that depends on the size of the answer (``candleSnapshot``, ``fundingHistory``,
...) is charged after the response arrives and slows the next requests down.

Request bodies and subscriptions are built from the wire types of
`pairflow.hyperliquid.schemas`, the ones the venue decodes with.

Errors are typed: `HyperliquidClientError` (4xx, the request is wrong),
`HyperliquidRateLimitError` (429), `HyperliquidServerError` (5xx) and
`HyperliquidTransportError` (no answer); each says `is_retryable()` and
`is_rate_limited()`.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import msgspec
import websockets
from websockets.asyncio.client import ClientConnection

from pairflow.errors import PairflowError
from pairflow.hyperliquid.schemas import (
    CandleRange,
    CandleSnapshotRequest,
    FundingHistoryRequest,
    InfoRequest,
    MetaAndAssetCtxsRequest,
    Subscription,
    UserFeesRequest,
)
from pairflow.hyperliquid.urls import resolve_api_url, ws_url
from pairflow.hyperliquid.weights import IP_WEIGHT_PER_MINUTE, info_base_weight, info_extra_weight

__all__ = [
    "HyperliquidClientError",
    "HyperliquidError",
    "HyperliquidRateLimitError",
    "HyperliquidServerError",
    "HyperliquidStatusError",
    "HyperliquidTransportError",
    "InfoClient",
    "TokenBucket",
    "WsConnection",
    "info_weight",
    "response_weight",
]

CANDLE_PAGE = 500
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


class HyperliquidError(PairflowError):
    """Base of every failure talking to a Hyperliquid API."""

    status: int | None = None

    def is_retryable(self) -> bool:
        """Return True when sending the same request again later may succeed."""
        return False

    def is_rate_limited(self) -> bool:
        """Return True when the API refused the request for exceeding its rate limit."""
        return False


class HyperliquidStatusError(HyperliquidError):
    """Base of the failures the API answered with an HTTP error status; the message names the status."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"HTTP {status} from Hyperliquid: {message[:200]}")


class HyperliquidClientError(HyperliquidStatusError):
    """Raise for an HTTP 4xx answer: the request itself is wrong and retrying will not help."""


class HyperliquidRateLimitError(HyperliquidClientError):
    """Raise for HTTP 429: the request weight budget is exhausted; retry after a pause."""

    def is_retryable(self) -> bool:
        return True

    def is_rate_limited(self) -> bool:
        return True


class HyperliquidServerError(HyperliquidStatusError):
    """Raise for an HTTP 5xx answer."""

    def is_retryable(self) -> bool:
        return True


class HyperliquidTransportError(HyperliquidError):
    """Raise when no answer arrived (connection refused, reset, timed out) or it was not JSON."""

    def is_retryable(self) -> bool:
        return True


def info_weight(body: Mapping[str, Any]) -> int:
    """Return the up-front weight of an ``/info`` request (PROTOCOL §10)."""
    return info_base_weight(body.get("type"))


def response_weight(body: Mapping[str, Any], response: Any) -> int:
    """Return the extra weight charged for the size of an ``/info`` answer."""
    return info_extra_weight(body.get("type"), response)


class TokenBucket:
    """A token bucket of request weight that refills continuously.

    Parameters
    ----------
    capacity
        Most weight that can be spent in a burst. The default keeps 2% below
        the venue's 1200: the venue starts counting when the first request
        *arrives*, so a client bucket exactly as large runs ahead of it by the
        request latency and would be answered with HTTP 429.
    refill_per_s
        Weight regained per second (1200 per minute = 20 per second).
    """

    def __init__(
        self, capacity: float = IP_WEIGHT_PER_MINUTE * 0.98, refill_per_s: float = IP_WEIGHT_PER_MINUTE / 60
    ) -> None:
        self.capacity = float(capacity)
        self.refill_per_s = float(refill_per_s)
        self._tokens = float(capacity)
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    @property
    def tokens(self) -> float:
        """Return the weight available now (negative while in debt)."""
        self._refill()
        return self._tokens

    def wait_time(self, weight: float) -> float:
        """Return seconds until ``weight`` can be spent (0 when it can be spent now)."""
        self._refill()
        needed = min(weight, self.capacity) - self._tokens
        return max(0.0, needed / self.refill_per_s)

    def charge(self, weight: float) -> None:
        """Spend ``weight`` now even if that puts the bucket in debt (for weight known only afterwards)."""
        self._refill()
        self._tokens -= weight

    async def take(self, weight: float) -> float:
        """Wait until ``weight`` is available, spend it and return how long it waited."""
        waited = 0.0
        async with self._lock:
            while (delay := self.wait_time(weight)) > 0:
                waited += delay
                await asyncio.sleep(delay)
            self._tokens -= weight
        return waited

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.refill_per_s)
        self._updated = now


class InfoClient:
    """Async client for ``POST <base>/info`` with rate limiting and retries.

    Parameters
    ----------
    url
        ``'mainnet'``, ``'testnet'`` or an http(s) base URL (e.g. the local venue).
    bucket
        Weight budget shared by everything that talks to the same API from this
        process; a fresh 1200-per-minute bucket when None.
    timeout_s
        Per-request timeout.
    retries
        Extra attempts for retryable failures (5xx, 429, transport), with
        exponential backoff and jitter.
    backoff_s
        First retry delay; doubles per attempt up to ``backoff_max_s``.
    """

    def __init__(
        self,
        url: str = "mainnet",
        bucket: TokenBucket | None = None,
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        backoff_max_s: float = 10.0,
    ) -> None:
        self.base_url = resolve_api_url(url)
        self.bucket = bucket or TokenBucket()
        self.retries = retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s)

    async def close(self) -> None:
        """Close the underlying connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> InfoClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def info(self, request: InfoRequest | Mapping[str, Any]) -> Any:
        """Post ``request`` to ``/info`` and return the decoded JSON, retrying retryable failures.

        Raises
        ------
        HyperliquidError
            The last failure once retries are used up, or at once for a 4xx answer.
        """
        body = msgspec.to_builtins(request) if isinstance(request, InfoRequest) else request
        attempt = 0
        while True:
            try:
                return await self._info_once(body)
            except HyperliquidError as error:
                if not error.is_retryable() or attempt >= self.retries:
                    raise
                delay = min(self.backoff_max_s, self.backoff_s * 2**attempt)
                if error.is_rate_limited():
                    self.bucket.charge(self.bucket.capacity / 2)
                attempt += 1
                await asyncio.sleep(delay * (0.5 + random.random()))

    async def meta_and_asset_ctxs(self) -> Any:
        """Return ``[meta, assetCtxs]`` for the perpetuals of the default dex."""
        return await self.info(MetaAndAssetCtxsRequest())

    async def candle_snapshot(self, coin: str, interval: str, start_ms: int, end_ms: int) -> list[dict]:
        """Return up to 500 candles of ``coin`` opening in ``[start_ms, end_ms]``, oldest first."""
        return await self.info(CandleSnapshotRequest(CandleRange(coin, interval, start_ms, end_ms)))

    async def funding_history(self, coin: str, start_ms: int, end_ms: int | None = None) -> list[dict]:
        """Return up to 500 hourly funding rows of ``coin`` from ``start_ms``, oldest first."""
        return await self.info(FundingHistoryRequest(coin, start_ms, end_ms))

    async def user_fees(self, user: str | None = None) -> dict:
        """Return the fee schedule of ``user``; without a user, the public base-tier schedule.

        The base tier is what an address with no trading volume pays, so the
        all-zero address stands in for "no user".
        """
        return await self.info(UserFeesRequest(user or ZERO_ADDRESS))

    async def _info_once(self, body: Mapping[str, Any]) -> Any:
        await self.bucket.take(info_weight(body))
        try:
            response = await self._http.post("/info", json=body)
        except httpx.HTTPError as error:
            raise HyperliquidTransportError(
                f"POST {self.base_url}/info {body.get('type')} failed: {type(error).__name__}: {error}"
            ) from None
        if response.status_code == 429:
            raise HyperliquidRateLimitError(429, response.text)
        if 400 <= response.status_code < 500:
            raise HyperliquidClientError(response.status_code, response.text)
        if response.status_code >= 500:
            raise HyperliquidServerError(response.status_code, response.text)
        try:
            data = response.json()
        except json.JSONDecodeError:
            raise HyperliquidTransportError(
                f"POST {self.base_url}/info {body.get('type')} answered non-JSON: {response.text[:100]!r}"
            ) from None
        self.bucket.charge(response_weight(body, data))
        return data


class WsConnection:
    """One WebSocket connection to ``<base>/ws`` speaking the Hyperliquid subscription protocol.

    The connection does not reconnect by itself; the collector owns that
    policy (stale detection, backoff, resubscription).

    Parameters
    ----------
    url
        ``'mainnet'``, ``'testnet'`` or an http(s) base URL; the WebSocket URL is derived from it.
    open_timeout_s
        Bound on the opening handshake (and, capped at 2 s, on the closing one).
    """

    def __init__(self, url: str = "mainnet", open_timeout_s: float = 10.0) -> None:
        self.url = ws_url(url)
        self.open_timeout_s = open_timeout_s
        self._socket: ClientConnection | None = None

    async def connect(self) -> None:
        """Open the connection.

        Raises
        ------
        HyperliquidTransportError
            When the handshake fails or times out.
        """
        try:
            self._socket = await websockets.connect(
                self.url,
                open_timeout=self.open_timeout_s,
                close_timeout=min(self.open_timeout_s, 2.0),
                ping_interval=None,
                max_size=2**24,
            )
        except (OSError, TimeoutError, websockets.WebSocketException) as error:
            raise HyperliquidTransportError(
                f"WebSocket {self.url} connect failed: {type(error).__name__}: {error}"
            ) from None

    async def subscribe(self, subscription: Subscription | Mapping[str, Any]) -> None:
        """Send ``{"method":"subscribe","subscription":...}``."""
        wire = msgspec.to_builtins(subscription) if isinstance(subscription, Subscription) else dict(subscription)
        await self.send({"method": "subscribe", "subscription": wire})

    async def ping(self) -> None:
        """Send the application-level keepalive ``{"method":"ping"}`` (answered with channel ``pong``)."""
        await self.send({"method": "ping"})

    async def send(self, message: Mapping[str, Any]) -> None:
        """Send one JSON message.

        Raises
        ------
        HyperliquidTransportError
            When the connection is not open or breaks while sending.
        """
        if self._socket is None:
            raise HyperliquidTransportError(f"WebSocket {self.url} is not connected")
        try:
            await self._socket.send(json.dumps(message, separators=(",", ":")))
        except websockets.WebSocketException as error:
            raise HyperliquidTransportError(f"WebSocket {self.url} send failed: {error}") from None

    async def frames(self) -> AsyncIterator[str]:
        """Yield raw text frames until the connection closes (then return normally).

        Binary frames are decoded as UTF-8 text; undecodable bytes are replaced
        so a malformed frame still reaches the caller's parser.
        """
        if self._socket is None:
            raise HyperliquidTransportError(f"WebSocket {self.url} is not connected")
        try:
            async for message in self._socket:
                yield message if isinstance(message, str) else message.decode("utf-8", "replace")
        except websockets.ConnectionClosed:
            return

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close()
