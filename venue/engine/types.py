"""Public value types of the engine: asset specs, decoded orders, events and the engine error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AssetSpec:
    """Describe one perpetual asset as listed in ``meta.universe``.

    Parameters
    ----------
    name
        Coin name, e.g. ``"BTC"``.
    sz_decimals
        Number of decimals allowed in sizes; prices may carry ``6 - sz_decimals`` decimals.
    max_leverage
        Highest leverage allowed; also fixes the maintenance margin rate ``1 / (2 * max_leverage)``.
    only_isolated
        Whether the asset forbids cross margin.
    """

    name: str
    sz_decimals: int
    max_leverage: int
    only_isolated: bool = False


@dataclass(frozen=True)
class OrderRequest:
    """Hold one decoded ``OrderWire`` exactly as the client sent it (strings stay strings)."""

    asset: int
    is_buy: bool
    limit_px: str
    sz: str
    reduce_only: bool
    order_type: dict
    cloid: str | None = None


class EngineError(Exception):
    """Signal a rejected action; ``str(error)`` is the exact exchange error string."""


@dataclass(frozen=True)
class EngineEvent:
    """Carry one change to listeners (WebSocket layer, recorders).

    ``channel`` is one of ``trades``, ``fills``, ``orderUpdates``, ``funding``, ``ledger``,
    ``liquidation``, ``nonUserCancel``, ``book``, ``candle``, ``ctx``; ``key`` is the coin for market
    channels and the lowercase user address for user channels.
    """

    channel: str
    key: str
    data: Any
