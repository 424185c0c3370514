"""A synchronous client for ``POST /exchange`` and ``POST /info``, for the order router.

Synchronous because the router runs inside a dataflow step and must know an
order's fate before the next leg; thread-safe because legs and cancels may
be sent from several threads. Every request first takes its weight from one
token bucket per client (PROTOCOL §10: ``/exchange`` costs ``1 + n // 40``);
every action gets its nonce from the signer's shared counter. A request that
gets no answer raises `HyperliquidTransportError`: the caller must treat the
action's effect as unknown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from pairflow.clock import WALL_CLOCK
from pairflow.hyperliquid.client import (
    HyperliquidClientError, HyperliquidRateLimitError, HyperliquidServerError, HyperliquidTransportError,
    TokenBucket, info_weight,
)
from pairflow.hyperliquid.signer import L1Signer, nonce_counter
from pairflow.hyperliquid.urls import resolve_api_url

__all__ = ["ExchangeClient", "exchange_weight"]


def exchange_weight(action: Mapping[str, Any]) -> int:
    """Return the weight of an ``/exchange`` action: 1 plus 1 per 40 orders or cancels in its batch."""
    batch = action.get("orders") or action.get("cancels") or action.get("modifies") or ()
    return 1 + len(batch) // 40


class ExchangeClient:
    """Sign and post actions for one account, and read ``/info``; one connection pool, one weight bucket.

    Parameters
    ----------
    url
        ``mainnet``, ``testnet`` or a base URL (the local venue).
    signer
        The key that signs: the account's own or an approved agent's.
    vault_address
        Sub-account or vault traded on behalf of, else None.
    timeout_s
        Seconds to wait for an answer before the request counts as unknown.
    now_ms
        The clock nonces are read from (wall clock: the exchange checks nonces against its own).
    """

    def __init__(self, url: str, signer: L1Signer, *, vault_address: str | None = None, timeout_s: float = 5.0,
                 bucket: TokenBucket | None = None, now_ms: Callable[[], int] = WALL_CLOCK.now_ms) -> None:
        self.base_url = resolve_api_url(url)
        self.signer = signer
        self.vault_address = vault_address
        self._nonces = nonce_counter(signer.address)
        self._now_ms = now_ms
        self._bucket = bucket or TokenBucket()
        self._bucket_lock = threading.Lock()
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s,
                                  limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _take(self, weight: int) -> None:
        with self._bucket_lock:
            while (delay := self._bucket.wait_time(weight)) > 0:
                time.sleep(delay)
            self._bucket.charge(weight)

    def now_ms(self) -> int:
        """Return the time requests are stamped with (nonces, ``expiresAfter``): the exchange checks both on its clock."""
        return self._now_ms()

    def signed(self, action: dict[str, Any], expires_after: int | None = None) -> dict[str, Any]:
        """Return the request body of ``action``: nonce from the signer's counter, then the signature.

        ``expires_after`` (ms, signed with the action) makes the exchange refuse the request once its
        clock has passed that time ("Action already expired").
        """
        nonce = self._nonces.next(self._now_ms())
        return {"action": action, "nonce": nonce,
                "signature": self.signer.sign(action, nonce, self.vault_address, expires_after),
                "vaultAddress": self.vault_address, "expiresAfter": expires_after}

    def exchange(self, action: dict[str, Any], expires_after: int | None = None) -> Any:
        """Post a signed action and return the JSON answer (``{"status": "ok"|"err", ...}``)."""
        self._take(exchange_weight(action))
        return self._post("/exchange", self.signed(action, expires_after))

    def info(self, body: Mapping[str, Any]) -> Any:
        """Post an ``/info`` request and return the JSON answer."""
        self._take(info_weight(body))
        return self._post("/info", body)

    def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        try:
            response = self._http.post(path, json=body)
        except httpx.HTTPError as error:
            raise HyperliquidTransportError(f"POST {path} got no answer: {type(error).__name__}") from None
        if response.status_code == 429:
            raise HyperliquidRateLimitError(429, response.text[:200])
        if response.status_code >= 500:
            raise HyperliquidServerError(response.status_code, response.text[:200])
        if response.status_code >= 400:
            raise HyperliquidClientError(response.status_code, response.text[:200])
        return response.json()
