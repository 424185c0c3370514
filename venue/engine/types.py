"""Public value types of the engine: asset specs, decoded orders, events and the engine error."""

from __future__ import annotations

from collections.abc import Callable
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


@dataclass(frozen=True, slots=True)
class Builder:
    """The builder an order action names and the fee it charges on every fill of the action's orders.

    Parameters
    ----------
    address
        Lowercase address credited with the fee.
    fee
        Fee in tenths of a basis point of the fill's notional (10 = 0.01%).
    """

    address: str
    fee: int


class EngineError(Exception):
    """Signal a rejected action; ``str(error)`` is the exact exchange error string."""


class EngineEvent:
    """Carry one change to listeners (WebSocket layer, recorders).

    ``channel`` is one of ``trades``, ``fills``, ``orderUpdates``, ``funding``, ``ledger``,
    ``liquidation``, ``nonUserCancel``, ``book``, ``candle``, ``ctx``; ``key`` is the coin for market
    channels and the lowercase user address for user channels.

    With ``build``, ``data`` is read as ``build(raw)`` where ``raw`` is what was passed as ``data``:
    the engine passes immutable snapshots, so the wire dicts are formatted only when (and where) a
    listener reads ``data``, which keeps listeners that ignore a channel from slowing the matching
    loop. The first read caches the result.
    """

    __slots__ = ("_build", "_data", "_raw", "channel", "key")

    def __init__(self, channel: str, key: str, data: Any = None, build: Callable[[Any], Any] | None = None) -> None:
        self.channel = channel
        self.key = key
        self._raw = data
        self._build = build
        self._data = data

    @property
    def data(self) -> Any:
        """Return the payload, building it on first access (safe to read from several threads)."""
        build = self._build
        if build is None:
            return self._data
        data = build(self._raw)
        self._data = data
        self._build = None
        return data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EngineEvent):
            return NotImplemented
        return (self.channel, self.key, self.data) == (other.channel, other.key, other.data)

    __hash__ = None  # type: ignore[assignment]  # payloads are lists and dicts

    def __repr__(self) -> str:
        return f"EngineEvent(channel={self.channel!r}, key={self.key!r}, data={self.data!r})"
