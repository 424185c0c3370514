"""Hyperliquid client pieces the collector relies on: URLs, request weights, token bucket, error kinds."""

from __future__ import annotations

import asyncio
import time

import pytest

from pairflow.errors import ConfigError
from pairflow.hyperliquid.client import (
    HyperliquidClientError,
    HyperliquidRateLimitError,
    HyperliquidServerError,
    HyperliquidTransportError,
    TokenBucket,
    info_weight,
    response_weight,
)
from pairflow.hyperliquid.urls import MAINNET_API_URL, TESTNET_API_URL, is_mainnet, resolve_api_url, ws_url


@pytest.mark.parametrize(
    ("given", "api", "ws"),
    [
        ("mainnet", MAINNET_API_URL, "wss://api.hyperliquid.xyz/ws"),
        ("TESTNET", TESTNET_API_URL, "wss://api.hyperliquid-testnet.xyz/ws"),
        ("http://127.0.0.1:3001/", "http://127.0.0.1:3001", "ws://127.0.0.1:3001/ws"),
        ("https://venue.example:8443", "https://venue.example:8443", "wss://venue.example:8443/ws"),
    ],
)
def test_urls_resolve_to_http_and_ws_endpoints(given: str, api: str, ws: str) -> None:
    assert resolve_api_url(given) == api
    assert ws_url(given) == ws


@pytest.mark.parametrize("bad", ["", "devnet", "ftp://host", "http://", "127.0.0.1:3001"])
def test_unknown_url_is_a_config_error_naming_it(bad: str) -> None:
    with pytest.raises(ConfigError, match="is not 'mainnet', 'testnet'"):
        resolve_api_url(bad)


def test_only_the_exact_mainnet_url_is_mainnet() -> None:
    assert is_mainnet("mainnet") and is_mainnet(MAINNET_API_URL + "/")
    assert not is_mainnet("testnet") and not is_mainnet("http://localhost:3001")


@pytest.mark.parametrize(
    ("body", "weight"),
    [({"type": "l2Book", "coin": "BTC"}, 2), ({"type": "allMids"}, 2), ({"type": "userRole", "user": "0x"}, 60),
     ({"type": "metaAndAssetCtxs"}, 20), ({"type": "candleSnapshot"}, 20), ({"type": "fundingHistory"}, 20)],
)
def test_request_weights_follow_the_published_table(body: dict, weight: int) -> None:
    assert info_weight(body) == weight


def test_answer_size_adds_weight_for_history_requests() -> None:
    assert response_weight({"type": "fundingHistory"}, [{}] * 45) == 2
    assert response_weight({"type": "candleSnapshot"}, [{}] * 500) == 8
    assert response_weight({"type": "metaAndAssetCtxs"}, [{}] * 500) == 0
    assert response_weight({"type": "fundingHistory"}, {"not": "a list"}) == 0


def test_token_bucket_spends_refills_and_goes_into_debt() -> None:
    bucket = TokenBucket(capacity=100, refill_per_s=1000)
    assert asyncio.run(bucket.take(100)) == 0.0
    assert 0.0 < bucket.wait_time(50) <= 0.05
    bucket.charge(200)
    assert bucket.tokens < -100
    started = time.monotonic()
    waited = asyncio.run(bucket.take(10))
    assert waited > 0.1 and time.monotonic() - started >= 0.1


def test_error_kinds_say_whether_to_retry() -> None:
    assert not HyperliquidClientError(422, "Failed to deserialize").is_retryable()
    limited = HyperliquidRateLimitError(429, "")
    assert limited.is_retryable() and limited.is_rate_limited()
    assert HyperliquidServerError(502, "bad gateway").is_retryable()
    assert HyperliquidTransportError("connection refused").is_retryable()
    assert not HyperliquidServerError(500, "").is_rate_limited()
    assert str(HyperliquidClientError(422, "Failed to deserialize\nthe body")) == (
        "HTTP 422 from Hyperliquid: Failed to deserialize the body"
    )
    server = HyperliquidServerError(503, "down")
    assert (server.status, str(server)) == (503, "HTTP 503 from Hyperliquid: down")
    assert HyperliquidTransportError("reset").status is None
