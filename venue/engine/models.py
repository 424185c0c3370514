"""Swappable execution models of the matching engine: latency, queue position and the funding rate."""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any, Protocol

from . import funding as funding_mod


class LatencyModel(Protocol):
    """Give the delay, in ms, between an action's arrival and the time the engine stamps on it."""

    def order_latency_ms(self, user: str) -> int:
        """Return the latency added to ``now_ms`` for the user's order timestamps."""


class QueueModel(Protocol):
    """Decide where a new resting order joins the orders already queued at its price."""

    def enqueue(self, level: deque, order: Any) -> None:
        """Put ``order`` into ``level`` (matching always consumes a level from the left)."""


class ZeroLatency:
    """Stamp actions at the current engine time."""

    def order_latency_ms(self, user: str) -> int:
        """Return 0."""
        return 0


class FixedLatency:
    """Stamp every action ``latency_ms`` after the engine time.

    Parameters
    ----------
    latency_ms
        Constant delay in milliseconds.
    """

    def __init__(self, latency_ms: int = 0) -> None:
        self.latency_ms = latency_ms

    def order_latency_ms(self, user: str) -> int:
        """Return the constant delay."""
        return self.latency_ms


class PriceTimeQueue:
    """Queue at the back: strict price-time (FIFO) priority, as on the real venue."""

    def enqueue(self, level: deque, order: Any) -> None:
        """Append the order behind everything already resting at its price."""
        level.append(order)


class FundingModel(Protocol):
    """Give the hourly funding rate settled on a coin at an hour boundary.

    ``uses_premium`` says whether the rate depends on the sampled premium: the engine samples
    the books' impact prices every 5 s only for a model that reads them (a recorded rate does not).
    """

    uses_premium: bool

    def hourly_rate(self, coin: str, time_ms: int, average_premium: Decimal) -> Decimal:
        """Return the rate charged at ``time_ms`` (positive: longs pay shorts) from the hour's premium."""


class PremiumFunding:
    """The venue's rule: the documented formula on the hour's average sampled premium."""

    uses_premium = True

    def hourly_rate(self, coin: str, time_ms: int, average_premium: Decimal) -> Decimal:
        """Return ``funding.hourly_rate(average_premium)``."""
        return funding_mod.hourly_rate(average_premium)
