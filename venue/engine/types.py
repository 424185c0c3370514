"""Public value types of the engine: asset specs, order requests and statuses, events and the engine error."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Union

import msgspec


class Value(msgspec.Struct, frozen=True):
    """Base of the engine's value types and views: immutable, so one object can be shared by every reader."""


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


class Tif(enum.Enum):
    """Time in force of a limit order."""

    GTC = "Gtc"
    """Good till canceled: rest what does not match."""
    IOC = "Ioc"
    """Immediate or cancel: cancel what does not match at once."""
    ALO = "Alo"
    """Add liquidity only (post only): refused when it would match."""


class TpSl(enum.Enum):
    """Whether a trigger order takes profit or stops a loss (decides the trigger direction)."""

    TP = "tp"
    SL = "sl"


class Grouping(enum.Enum):
    """How the orders of one action relate."""

    NA = "na"
    """Independent orders."""
    NORMAL_TPSL = "normalTpsl"
    """The first order is the parent; the trigger orders after it arm when it fills."""
    POSITION_TPSL = "positionTpsl"
    """Trigger orders attached to the position."""


class OrderState(enum.Enum):
    """Where an order stands; the values are the exchange's own status names."""

    OPEN = "open"
    FILLED = "filled"
    CANCELED = "canceled"
    TRIGGERED = "triggered"
    REJECTED = "rejected"
    REDUCE_ONLY_CANCELED = "reduceOnlyCanceled"
    SELF_TRADE_CANCELED = "selfTradeCanceled"
    SCHEDULED_CANCEL = "scheduledCancel"
    LIQUIDATED_CANCELED = "liquidatedCanceled"
    IOC_CANCEL_REJECTED = "iocCancelRejected"
    BAD_ALO_PX_REJECTED = "badAloPxRejected"
    PERP_MARGIN_REJECTED = "perpMarginRejected"
    MIN_TRADE_NTL_REJECTED = "minTradeNtlRejected"
    TICK_REJECTED = "tickRejected"
    ORACLE_REJECTED = "oracleRejected"
    REDUCE_ONLY_REJECTED = "reduceOnlyRejected"
    BAD_TRIGGER_PX_REJECTED = "badTriggerPxRejected"
    MARKET_ORDER_NO_LIQUIDITY_REJECTED = "marketOrderNoLiquidityRejected"


class Limit(Value):
    """A limit order type."""

    tif: Tif = Tif.GTC


class Trigger(Value):
    """A trigger (take-profit / stop) order type; fires on the mark price.

    ``trigger_px`` is exact decimal text or a `Decimal`; a market trigger executes at the mark +/-10%.
    """

    trigger_px: Decimal | str
    is_market: bool
    tpsl: TpSl


class OrderRequest(Value):
    """One order to place.

    Prices and sizes are exact decimals: a `Decimal` or its text (``"2001.5"``); text is what the
    server passes on and what the engine parses fastest (once per distinct text).
    """

    asset: int
    is_buy: bool
    limit_px: Decimal | str
    sz: Decimal | str
    reduce_only: bool = False
    order_type: Limit | Trigger = Limit()
    cloid: str | None = None


class Builder(Value):
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


class Resting(Value):
    """The order (or its unfilled rest) is on the book."""

    oid: int
    cloid: str | None = None


class Filled(Value):
    """The order filled at once (an Ioc's filled part counts as filled; its rest was canceled)."""

    oid: int
    total_sz: Decimal
    avg_px: Decimal
    cloid: str | None = None


class Rejected(Value):
    """The order (or cancel, or modify) was refused; ``message`` is the exchange's exact text."""

    message: str


class WaitingForFill(Value):
    """A tp/sl child waiting for its parent to fill."""


class WaitingForTrigger(Value):
    """A tp/sl child armed on the mark price."""


class Success(Value):
    """The cancel took the order off the book."""


OrderStatus = Union[Resting, Filled, Rejected, WaitingForFill, WaitingForTrigger]  # noqa: UP007
"""What ``place_orders`` and ``batch_modify`` return per order."""
CancelStatus = Union[Success, Rejected]  # noqa: UP007
"""What ``cancel`` and ``cancel_by_cloid`` return per cancel."""


class Channel(enum.Enum):
    """The channel of an `EngineEvent`; its payload type is in the member's docstring."""

    TRADES = "trades"
    """``list[Trade]`` of one coin."""
    FILLS = "fills"
    """``list[Fill]`` of one user."""
    ORDER_UPDATES = "order_updates"
    """``list[OrderRecord]`` of one user."""
    FUNDING = "funding"
    """One `FundingPayment` of one user."""
    LEDGER = "ledger"
    """One `LedgerUpdate` of one user."""
    LIQUIDATION = "liquidation"
    """One `Liquidation` of one user."""
    NON_USER_CANCEL = "non_user_cancel"
    """``list[CanceledOrder]`` of one user (canceled by the venue, not the user)."""
    BOOK = "book"
    """None: the book of the coin changed."""
    CANDLE = "candle"
    """One `Candle` of the coin."""
    CTX = "ctx"
    """None: time moved; pull ``asset_context(coin)`` when needed."""


class EngineError(Exception):
    """Signal a rejected action; ``str(error)`` is the exact exchange error string."""


class EngineEvent:
    """Carry one change to listeners (WebSocket layer, recorders, a backtest's executor).

    ``channel`` is a `Channel` (its docstring names the payload type); ``key`` is the coin for market
    channels and the lowercase user address for user channels.

    With ``build``, ``data`` is read as ``build(raw)`` where ``raw`` is what was passed as ``data``:
    the engine passes immutable snapshots, so the typed payloads are built only when (and where) a
    listener reads ``data``, which keeps listeners that ignore a channel from slowing the matching
    loop. The first read caches the result.
    """

    __slots__ = ("_build", "_data", "_raw", "channel", "key")

    def __init__(self, channel: Channel, key: str, data: Any = None, build: Callable[[Any], Any] | None = None) -> None:
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
