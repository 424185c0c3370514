"""Hyperliquid's per-IP request weights (PROTOCOL §10), shared by the client and the local venue.

Every IP may spend ``IP_WEIGHT_PER_MINUTE`` of weight per minute. An ``/info``
request costs a base weight known up front plus, for history-like answers, a
weight that grows with the number of items returned.
"""

from __future__ import annotations

from typing import Any

__all__ = ["IP_WEIGHT_PER_MINUTE", "info_base_weight", "info_extra_weight"]

IP_WEIGHT_PER_MINUTE = 1200

_LIGHT_TYPES = frozenset(
    {"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState", "exchangeStatus"}
)
_PER_20_ITEMS_TYPES = frozenset(
    {
        "recentTrades",
        "historicalOrders",
        "userFills",
        "userFillsByTime",
        "fundingHistory",
        "userFunding",
        "nonUserFundingUpdates",
        "twapHistory",
        "userTwapSliceFills",
        "userTwapSliceFillsByTime",
        "delegatorHistory",
        "delegatorRewards",
        "validatorStats",
    }
)


def info_base_weight(info_type: Any) -> int:
    """Return the weight of an ``/info`` request of ``info_type`` before its answer is known."""
    if info_type in _LIGHT_TYPES:
        return 2
    if info_type == "userRole":
        return 60
    return 20


def info_extra_weight(info_type: Any, response: Any) -> int:
    """Return the weight added by the number of items an ``/info`` answer of ``info_type`` holds."""
    if not isinstance(response, list):
        return 0
    if info_type in _PER_20_ITEMS_TYPES:
        return len(response) // 20
    if info_type == "candleSnapshot":
        return len(response) // 60
    return 0
