"""Resolve which Hyperliquid API to talk to: mainnet, testnet, or an explicit base URL.

The SDK decides mainnet signing by exact string equality with the mainnet URL
(PROTOCOL §1.1), so the resolved URL is normalised (no trailing slash) and the
mainnet constant is spelled exactly as the SDK spells it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pairflow.errors import ConfigError

__all__ = ["MAINNET_API_URL", "TESTNET_API_URL", "is_mainnet", "resolve_api_url", "ws_url"]

MAINNET_API_URL = "https://api.hyperliquid.xyz"
TESTNET_API_URL = "https://api.hyperliquid-testnet.xyz"
_NAMED = {"mainnet": MAINNET_API_URL, "testnet": TESTNET_API_URL}


def resolve_api_url(name_or_url: str) -> str:
    """Return the HTTP base URL for ``'mainnet'``, ``'testnet'`` or an ``http(s)://host[:port]`` URL.

    Raises
    ------
    ConfigError
        When the value is neither a known network name nor an http(s) URL with a host.
    """
    value = name_or_url.strip()
    named = _NAMED.get(value.lower())
    if named is not None:
        return named
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"API url {name_or_url!r} is not 'mainnet', 'testnet' or an http(s):// URL")
    return value.rstrip("/")


def ws_url(api_url: str) -> str:
    """Return the WebSocket URL of an HTTP base URL (``http``→``ws``, ``https``→``wss``, path ``/ws``)."""
    base = resolve_api_url(api_url)
    return "ws" + base[len("http") :] + "/ws"


def is_mainnet(api_url: str) -> bool:
    """Return True when ``api_url`` is the mainnet API (where real money is at stake)."""
    return resolve_api_url(api_url) == MAINNET_API_URL
