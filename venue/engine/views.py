"""Typed results of the engine's queries and the payloads of its events.

Numbers are exact `Decimal` values, already rounded to the precision the exchange reports them
with, so a formatter only has to print them; times are integer ms. The wire shapes (camelCase,
strings) are built from these by ``venue.server.wire``.
"""

from __future__ import annotations

from decimal import Decimal


from .types import OrderState, TpSl, Value


class BookLevel(Value):
    """One price level: total size and number of orders."""

    px: Decimal
    sz: Decimal
    n: int


class BookSnapshot(Value):
    """Best levels first on both sides."""

    coin: str
    time_ms: int
    bids: list[BookLevel]
    asks: list[BookLevel]


class Bbo(Value):
    """Best bid and offer; None for an empty side."""

    coin: str
    time_ms: int
    bid: BookLevel | None
    ask: BookLevel | None


class AssetContext(Value):
    """Market state of one perp: funding, open interest, prices, day volumes."""

    coin: str
    funding: Decimal
    open_interest: Decimal
    prev_day_px: Decimal
    day_ntl_vlm: Decimal
    premium: Decimal | None
    oracle_px: Decimal
    mark_px: Decimal
    mid_px: Decimal | None
    impact_pxs: tuple[Decimal, Decimal] | None
    day_base_vlm: Decimal


class Candle(Value):
    """One candle; ``close_ms`` is the last millisecond it covers."""

    coin: str
    interval: str
    open_ms: int
    close_ms: int
    open: Decimal
    close: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    trades: int


class Trade(Value):
    """One trade print; ``is_buy`` is the taker's side, ``users`` are buyer then seller."""

    coin: str
    is_buy: bool
    px: Decimal
    sz: Decimal
    time_ms: int
    hash: str
    tid: int
    buyer: str
    seller: str


class FillLiquidation(Value):
    """Why a fill was a liquidation: whose, at which mark, by the book or the backstop vault."""

    liquidated_user: str
    mark_px: Decimal
    method: str


class Fill(Value):
    """One fill of one user; ``fee`` includes ``builder_fee`` and is negative for a rebate."""

    coin: str
    px: Decimal
    sz: Decimal
    is_buy: bool
    time_ms: int
    start_position: Decimal
    direction: str
    closed_pnl: Decimal
    hash: str
    oid: int
    crossed: bool
    fee: Decimal
    tid: int
    builder_fee: Decimal | None = None
    cloid: str | None = None
    liquidation: FillLiquidation | None = None


class OrderView(Value):
    """An order as the user sees it; ``children`` are the tp/sl orders waiting for it to fill."""

    coin: str
    is_buy: bool
    limit_px: Decimal
    sz: Decimal
    oid: int
    time_ms: int
    orig_sz: Decimal
    cloid: str | None
    trigger_px: Decimal | None
    tpsl: TpSl | None
    is_market: bool
    children: list[OrderView]
    is_position_tpsl: bool
    reduce_only: bool
    order_type: str
    tif: str | None


class OrderRecord(Value):
    """An order with its status and the time it got it."""

    order: OrderView
    status: OrderState
    status_time_ms: int


class Leverage(Value):
    """Margin mode and leverage of a position; ``raw_usd`` only for isolated positions."""

    is_cross: bool
    value: int
    raw_usd: Decimal | None = None


class CumulativeFunding(Value):
    """Funding paid by a position (positive = paid)."""

    all_time: Decimal
    since_open: Decimal
    since_change: Decimal


class PositionState(Value):
    """One open position at the current mark."""

    coin: str
    szi: Decimal
    leverage: Leverage
    entry_px: Decimal
    position_value: Decimal
    unrealized_pnl: Decimal
    return_on_equity: Decimal
    liquidation_px: Decimal | None
    margin_used: Decimal
    max_leverage: int
    cumulative_funding: CumulativeFunding


class MarginSummary(Value):
    """Account value, notional, raw USD and margin in use."""

    account_value: Decimal
    total_ntl_pos: Decimal
    total_raw_usd: Decimal
    total_margin_used: Decimal


class AccountState(Value):
    """A user's perp account at the current marks."""

    margin_summary: MarginSummary
    cross_margin_summary: MarginSummary
    cross_maintenance_margin_used: Decimal
    withdrawable: Decimal
    positions: list[PositionState]
    time_ms: int


class FundingRate(Value):
    """One hourly funding settlement of a coin."""

    coin: str
    rate: Decimal
    premium: Decimal
    time_ms: int


class FundingPayment(Value):
    """Funding one position paid (``usdc`` negative) or received at a settlement."""

    time_ms: int
    hash: str
    coin: str
    usdc: Decimal
    szi: Decimal
    rate: Decimal
    samples: int


class Deposit(Value):
    """USDC credited to the perp account."""

    usdc: Decimal


class ClassTransfer(Value):
    """USDC moved between the perp and spot accounts."""

    usdc: Decimal
    to_perp: bool


class InternalTransfer(Value):
    """USDC sent from one user to another."""

    usdc: Decimal
    user: str
    destination: str
    fee: Decimal


class LedgerUpdate(Value):
    """One non-funding ledger entry."""

    time_ms: int
    hash: str
    delta: Deposit | ClassTransfer | InternalTransfer


class Liquidation(Value):
    """A liquidation of a user's account (or isolated positions)."""

    lid: int
    liquidator: str
    liquidated_user: str
    liquidated_ntl_pos: Decimal
    liquidated_account_value: Decimal


class CanceledOrder(Value):
    """An order the venue canceled (self-trade, reduce-only, liquidation)."""

    coin: str
    oid: int


class DailyVolume(Value):
    """One UTC day of volume: the user's taker and maker volume and the whole exchange's."""

    date: str
    user_cross: Decimal
    user_add: Decimal
    exchange: Decimal


class UserFees(Value):
    """A user's last 14 days of volume, current rates and the schedule's base rates (fractions)."""

    daily_volumes: list[DailyVolume]
    taker_rate: Decimal
    maker_rate: Decimal
    base_taker_rate: Decimal
    base_maker_rate: Decimal


class RateLimit(Value):
    """The per-address request budget: 10 000 plus one request per USDC traded."""

    cum_vlm: Decimal
    n_requests_used: int
    n_requests_cap: int
    n_requests_surplus: int


class Agent(Value):
    """A named API wallet of a user."""

    name: str
    address: str
    valid_until_ms: int | None


class SpotBalance(Value):
    """A spot token balance."""

    coin: str
    token: int
    hold: Decimal
    total: Decimal
    entry_ntl: Decimal
