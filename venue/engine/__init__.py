"""Local Hyperliquid-compatible exchange engine (no HTTP): matching, accounts, margin, funding, candles."""

from .engine import Engine
from .fees import FeeModel, HyperliquidFees
from .models import FixedLatency, LatencyModel, PriceTimeQueue, QueueModel, ZeroLatency
from .types import AssetSpec, EngineError, EngineEvent, OrderRequest

__all__ = [
    "AssetSpec",
    "Engine",
    "EngineError",
    "EngineEvent",
    "FeeModel",
    "FixedLatency",
    "HyperliquidFees",
    "LatencyModel",
    "OrderRequest",
    "PriceTimeQueue",
    "QueueModel",
    "ZeroLatency",
]
