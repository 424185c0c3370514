"""Wire shapes of an account's own data: fills, open orders, positions, funding payments.

Shared by the user-stream source and by reconciliation, which read the same
shapes from ``/info`` (``userFillsByTime``, ``frontendOpenOrders``,
``clearinghouseState``, ``userFunding``) and from the ``userFills`` /
``userFundings`` WebSocket channels. Numbers stay strings, as on the wire.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "ClearinghouseWire", "FillWire", "FundingDeltaWire", "OpenOrderWire", "UserFundingWire",
]


class FillWire(msgspec.Struct, frozen=True):
    """One fill; ``tid`` is the trade id (missing in some 2023 captures, where hash + oid + position stand in)."""

    coin: str
    px: str
    sz: str
    side: str
    time: int
    oid: int
    crossed: bool
    fee: str
    closedPnl: str = "0.0"
    startPosition: str = "0.0"
    hash: str = ""
    tid: int | None = None
    cloid: str | None = None


class OpenOrderWire(msgspec.Struct, frozen=True):
    """One resting order from ``frontendOpenOrders``."""

    coin: str
    side: str
    limitPx: str
    sz: str
    oid: int
    timestamp: int
    origSz: str = ""
    cloid: str | None = None
    reduceOnly: bool = False
    isTrigger: bool = False


class LeverageWire(msgspec.Struct, frozen=True):
    type: str
    value: float


class PositionWire(msgspec.Struct, frozen=True):
    coin: str
    szi: str
    entryPx: str | None = None
    unrealizedPnl: str = "0.0"
    marginUsed: str = "0.0"
    positionValue: str = "0.0"
    leverage: LeverageWire | None = None


class AssetPositionWire(msgspec.Struct, frozen=True):
    position: PositionWire


class MarginSummaryWire(msgspec.Struct, frozen=True):
    accountValue: str
    totalNtlPos: str = "0.0"


class ClearinghouseWire(msgspec.Struct, frozen=True):
    """``clearinghouseState``: positions and the account's value."""

    assetPositions: list[AssetPositionWire]
    marginSummary: MarginSummaryWire
    time: int = 0


class FundingDeltaWire(msgspec.Struct, frozen=True):
    coin: str
    usdc: str
    szi: str
    fundingRate: str


class UserFundingWire(msgspec.Struct, frozen=True):
    """One row of ``userFunding``: a funding payment on one position."""

    time: int
    delta: FundingDeltaWire
    hash: str = ""
