"""Per-IP request weights (Hyperliquid's REST limit) answered with HTTP 429.

Each IP has a bucket of ``weight_per_minute`` that refills continuously. A
request is refused when its base weight does not fit; weight that depends on
the response size (``+1 per 20 items`` etc.) is charged afterwards and may
push the bucket below zero, delaying the next request as on the real venue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from pairflow.hyperliquid.weights import IP_WEIGHT_PER_MINUTE, info_base_weight, info_extra_weight

__all__ = [
    "AddressBudget",
    "IpRateLimiter",
    "exchange_weight",
    "info_base_weight",
    "info_extra_weight",
]

def exchange_weight(action: Any) -> int:
    """Return the weight of an ``/exchange`` request: ``1 + floor(batch_length / 40)``."""
    batch = 0
    if isinstance(action, dict):
        for key in ("orders", "cancels", "modifies"):
            items = action.get(key)
            if isinstance(items, list):
                batch = len(items)
                break
    return 1 + batch // 40


class IpRateLimiter:
    """Refill-per-minute weight buckets keyed by client IP.

    Parameters
    ----------
    weight_per_minute
        Bucket size and refill per minute; the real venue uses 1200. Tests use
        a small budget to provoke HTTP 429 quickly.
    monotonic
        Clock in seconds, injectable for tests.
    """

    def __init__(self, weight_per_minute: int = IP_WEIGHT_PER_MINUTE, monotonic: Callable[[], float] = time.monotonic):
        if weight_per_minute <= 0:
            raise ValueError(f"weight_per_minute must be positive, received {weight_per_minute}")
        self.weight_per_minute = weight_per_minute
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _level(self, ip: str, now: float) -> float:
        level, stamp = self._buckets.get(ip, (float(self.weight_per_minute), now))
        refill = (now - stamp) * self.weight_per_minute / 60.0
        return min(float(self.weight_per_minute), level + refill)

    def try_acquire(self, ip: str, weight: int) -> bool:
        """Charge ``weight`` to ``ip`` and return True, or return False (charging nothing) if it does not fit."""
        now = self._monotonic()
        with self._lock:
            level = self._level(ip, now)
            if level < weight:
                self._buckets[ip] = (level, now)
                return False
            self._buckets[ip] = (level - weight, now)
            return True

    def charge(self, ip: str, weight: int) -> None:
        """Charge ``weight`` unconditionally (response-size weight)."""
        if weight <= 0:
            return
        now = self._monotonic()
        with self._lock:
            self._buckets[ip] = (self._level(ip, now) - weight, now)

    def remaining(self, ip: str) -> float:
        """Return the weight ``ip`` may still spend right now."""
        with self._lock:
            return self._level(ip, self._monotonic())


class AddressBudget:
    """Hyperliquid's per-address action budget, read from the engine's ``userRateLimit`` counters.

    The engine counts requests (``nRequestsUsed``) and derives the cap from traded volume
    (``nRequestsCap`` = 10 000 + 1 per USDC). Past the cap an address may still send one
    action every ``refill_interval_s`` seconds; cancels get the larger cap
    ``min(cap + 100 000, 2 * cap)`` so a throttled trader can always pull quotes.

    Parameters
    ----------
    refill_interval_s
        Seconds between actions allowed once the budget is spent (10 on the real venue).
    monotonic
        Clock in seconds, injectable for tests.
    """

    def __init__(self, refill_interval_s: float = 10.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.refill_interval_s = refill_interval_s
        self._monotonic = monotonic
        self._last_grant: dict[str, float] = {}
        self._lock = threading.Lock()

    def refusal(self, user: str, limits: dict[str, Any], weight: int, is_cancel: bool = False) -> str | None:
        """Return the exchange's error string if ``user`` may not spend ``weight`` more requests, else None."""
        used, cap = limits["nRequestsUsed"], limits["nRequestsCap"]
        if is_cancel:
            cap = min(cap + 100_000, 2 * cap)
        if used + weight <= cap:
            return None
        now = self._monotonic()
        with self._lock:
            last = self._last_grant.get(user)
            if last is None or now - last >= self.refill_interval_s:
                self._last_grant[user] = now
                return None
        return (f"Too many cumulative requests sent ({used + weight} > {cap}) for cumulative volume traded "
                f"${float(limits['cumVlm']):.2f}. Place taker orders to free up 1 request per USDC traded.")
