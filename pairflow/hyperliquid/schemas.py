"""Hyperliquid wire schemas: one msgspec type per request, action, order wire, market-data payload and subscription.

The venue decodes what clients send with these types, the client builds its
requests from them, `pairflow.hyperliquid.parse` decodes market data with them
and the order router will sign actions built from them, so client and server
cannot drift apart. Field names stay camelCase because they are the wire.

Decoding is strict, as the real venue's: unknown ``type``, missing fields,
wrong JSON types, out-of-range integers and non-decimal price strings raise
`BadRequest` (the venue answers HTTP 422 with `DESERIALIZE_ERROR`). Unknown
extra keys are accepted and ignored, as the SDK sends some (``dex``,
``endTime: null``, ``aggregateByTime``).
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal, Union

import msgspec

from pairflow.errors import PairflowError

__all__ = [
    "CANDLE_INTERVALS",
    "DESERIALIZE_ERROR",
    "INFO_REQUEST_TYPES",
    "L1_ACTION_TYPES",
    "SUBSCRIPTION_TYPES",
    "UNSUPPORTED_ACTION_TYPES",
    "USER_SIGNED_ACTION_TYPES",
    "WS_CONNECTED_TEXT",
    "BadRequest",
    "ExchangeRequest",
    "decode_action",
    "decode_exchange_request",
    "decode_info_request",
    "decode_subscription",
    "candle_interval_ms",
    "interval_ms",
]

DESERIALIZE_ERROR = "Failed to deserialize the JSON body into the target type"
"""The body text of the real venue's HTTP 422."""

WS_CONNECTED_TEXT = "Websocket connection established."
"""The first (non-JSON) frame the venue sends on every WebSocket."""

CandleInterval = Literal["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "1w", "1M"]
CANDLE_INTERVALS: tuple[str, ...] = typing.get_args(CandleInterval)
"""Every candle interval the venue serves, shortest first."""

INTERVAL_UNIT_MS: dict[str, int] = {
    "ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "M": 2_592_000_000,
}
"""Milliseconds per unit of an interval label; a month ("M") counts as 30 days."""


def interval_ms(label: str) -> int:
    """Return the length of an interval label in milliseconds: a candle interval or one of pairflow's bars.

    One table serves the venue's candles, the collector's pager and the strategy's bars, so an interval
    cannot mean two lengths. ``"1M"`` counts as 30 days; only the venue's candle buckets follow calendar
    months (``venue.engine.candles``).

    Raises
    ------
    ValueError
        When the label is not a positive whole number followed by ms, s, m, h, d, w or M.

    Examples
    --------
    >>> interval_ms("250ms"), interval_ms("1s"), interval_ms("15m"), interval_ms("4h"), interval_ms("1w")
    (250, 1000, 900000, 14400000, 604800000)
    """
    for unit in INTERVAL_UNIT_MS:  # "ms" is tried before "s" and "m"
        count = label.removesuffix(unit)
        if count != label and count.isascii() and count.isdigit() and int(count) > 0:
            return int(count) * INTERVAL_UNIT_MS[unit]
    raise ValueError(f"interval {label!r} is not <number><ms|s|m|h|d|w|M>")


def candle_interval_ms(interval: str) -> int:
    """Return the length of a Hyperliquid candle interval in milliseconds (see `interval_ms`).

    Raises
    ------
    ValueError
        When ``interval`` is not one of `CANDLE_INTERVALS`.

    Examples
    --------
    >>> candle_interval_ms("1h")
    3600000
    """
    if interval not in CANDLE_INTERVALS:
        raise ValueError(f"candle interval {interval!r} is not one of {', '.join(CANDLE_INTERVALS)}")
    return interval_ms(interval)


class BadRequest(PairflowError):
    """Raise when a payload cannot be decoded into a wire type; ``detail`` names the cause for logs."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = self.message


def _convert(payload: Any, target: Any) -> Any:
    try:
        return msgspec.convert(payload, target, strict=True)
    except msgspec.ValidationError as exc:
        raise BadRequest(str(exc)) from None


Address = Annotated[str, msgspec.Meta(pattern="^0x[0-9a-fA-F]{40}$")]
Cloid = Annotated[str, msgspec.Meta(pattern="^0x[0-9a-fA-F]{32}$")]
Coin = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
U64 = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
U32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
I64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Decimal = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,20}(\.[0-9]{1,20})?$")]


# ---------------------------------------------------------------- /info


class InfoRequest(msgspec.Struct, tag_field="type", frozen=True, omit_defaults=True):
    """Base of every ``/info`` request; the subclass tag is the ``type`` value (defaults are not sent)."""


class MetaRequest(InfoRequest, tag="meta"):
    dex: str = ""


class SpotMetaRequest(InfoRequest, tag="spotMeta"):
    pass


class MetaAndAssetCtxsRequest(InfoRequest, tag="metaAndAssetCtxs"):
    dex: str = ""


class SpotMetaAndAssetCtxsRequest(InfoRequest, tag="spotMetaAndAssetCtxs"):
    pass


class AllMidsRequest(InfoRequest, tag="allMids"):
    dex: str = ""


class L2BookRequest(InfoRequest, tag="l2Book"):
    coin: str
    nSigFigs: Annotated[int, msgspec.Meta(ge=2, le=5)] | None = None
    mantissa: Annotated[int, msgspec.Meta(ge=1, le=5)] | None = None


class CandleRange(msgspec.Struct, frozen=True):
    coin: str
    interval: CandleInterval
    startTime: U64
    endTime: U64 | None = None


class CandleSnapshotRequest(InfoRequest, tag="candleSnapshot"):
    req: CandleRange


class ClearinghouseStateRequest(InfoRequest, tag="clearinghouseState"):
    user: Address
    dex: str = ""


class SpotClearinghouseStateRequest(InfoRequest, tag="spotClearinghouseState"):
    user: Address


class OpenOrdersRequest(InfoRequest, tag="openOrders"):
    user: Address
    dex: str = ""


class FrontendOpenOrdersRequest(InfoRequest, tag="frontendOpenOrders"):
    user: Address
    dex: str = ""


class UserFillsRequest(InfoRequest, tag="userFills"):
    user: Address
    aggregateByTime: bool = False


class UserFillsByTimeRequest(InfoRequest, tag="userFillsByTime"):
    user: Address
    startTime: U64
    endTime: U64 | None = None
    aggregateByTime: bool = False


class FundingHistoryRequest(InfoRequest, tag="fundingHistory"):
    coin: str
    startTime: U64
    endTime: U64 | None = None


class UserFundingRequest(InfoRequest, tag="userFunding"):
    user: Address
    startTime: U64
    endTime: U64 | None = None


class UserNonFundingLedgerUpdatesRequest(InfoRequest, tag="userNonFundingLedgerUpdates"):
    user: Address
    startTime: U64
    endTime: U64 | None = None


class OrderStatusRequest(InfoRequest, tag="orderStatus"):
    user: Address
    oid: U64 | Cloid


class UserOnlyRequest(InfoRequest):
    user: Address


class UserFeesRequest(UserOnlyRequest, tag="userFees"):
    pass


class UserRateLimitRequest(UserOnlyRequest, tag="userRateLimit"):
    pass


class HistoricalOrdersRequest(UserOnlyRequest, tag="historicalOrders"):
    pass


class ExtraAgentsRequest(UserOnlyRequest, tag="extraAgents"):
    pass


class UserRoleRequest(UserOnlyRequest, tag="userRole"):
    pass


class RecentTradesRequest(InfoRequest, tag="recentTrades"):
    coin: str


class ReferralRequest(UserOnlyRequest, tag="referral"):
    pass


class SubAccountsRequest(UserOnlyRequest, tag="subAccounts"):
    pass


class PortfolioRequest(UserOnlyRequest, tag="portfolio"):
    pass


class UserTwapSliceFillsRequest(UserOnlyRequest, tag="userTwapSliceFills"):
    pass


class UserVaultEquitiesRequest(UserOnlyRequest, tag="userVaultEquities"):
    pass


class DelegatorSummaryRequest(UserOnlyRequest, tag="delegatorSummary"):
    pass


class DelegationsRequest(UserOnlyRequest, tag="delegations"):
    pass


class DelegatorRewardsRequest(UserOnlyRequest, tag="delegatorRewards"):
    pass


class DelegatorHistoryRequest(UserOnlyRequest, tag="delegatorHistory"):
    pass


class UserToMultiSigSignersRequest(UserOnlyRequest, tag="userToMultiSigSigners"):
    pass


class UserDexAbstractionRequest(UserOnlyRequest, tag="userDexAbstraction"):
    pass


class UserAbstractionRequest(UserOnlyRequest, tag="userAbstraction"):
    pass


class SpotDeployStateRequest(UserOnlyRequest, tag="spotDeployState"):
    pass


class MaxBuilderFeeRequest(UserOnlyRequest, tag="maxBuilderFee"):
    builder: Address


class PerpDexsRequest(InfoRequest, tag="perpDexs"):
    pass


class PerpDeployAuctionStatusRequest(InfoRequest, tag="perpDeployAuctionStatus"):
    pass


class ExchangeStatusRequest(InfoRequest, tag="exchangeStatus"):
    pass


INFO_REQUEST_TYPES: tuple[type[InfoRequest], ...] = (
    MetaRequest, SpotMetaRequest, MetaAndAssetCtxsRequest, SpotMetaAndAssetCtxsRequest, AllMidsRequest,
    L2BookRequest, CandleSnapshotRequest, ClearinghouseStateRequest, SpotClearinghouseStateRequest,
    OpenOrdersRequest, FrontendOpenOrdersRequest, UserFillsRequest, UserFillsByTimeRequest,
    FundingHistoryRequest, UserFundingRequest, UserNonFundingLedgerUpdatesRequest, OrderStatusRequest,
    UserFeesRequest, UserRateLimitRequest, HistoricalOrdersRequest, ExtraAgentsRequest, UserRoleRequest,
    RecentTradesRequest, ReferralRequest, SubAccountsRequest, PortfolioRequest, UserTwapSliceFillsRequest,
    UserVaultEquitiesRequest, DelegatorSummaryRequest, DelegationsRequest, DelegatorRewardsRequest,
    DelegatorHistoryRequest, UserToMultiSigSignersRequest, UserDexAbstractionRequest, UserAbstractionRequest,
    SpotDeployStateRequest, MaxBuilderFeeRequest, PerpDexsRequest, PerpDeployAuctionStatusRequest,
    ExchangeStatusRequest,
)
_INFO_UNION: Any = Union[INFO_REQUEST_TYPES]  # noqa: UP007 - a union built from a tuple of types
_INFO_BY_TAG: dict[Any, type[InfoRequest]] = {kind.__struct_config__.tag: kind for kind in INFO_REQUEST_TYPES}


def decode_info_request(payload: Any) -> InfoRequest:
    """Return the typed ``/info`` request or raise `BadRequest`.

    A known ``type`` converts straight to its struct (msgspec matches a 40-member union anew on
    every call, 20x slower, and the venue and backtests ask ``/info`` all the time); anything else
    goes through the union, whose error names what is wrong.
    """
    tag = payload.get("type") if isinstance(payload, dict) else None
    kind = _INFO_BY_TAG.get(tag) if isinstance(tag, str) else None
    return _convert(payload, _INFO_UNION if kind is None else kind)


# ---------------------------------------------------------------- /exchange envelope


class SignatureWire(msgspec.Struct, frozen=True):
    r: str
    s: str
    v: int


class ExchangeRequest(msgspec.Struct, frozen=True):
    """The ``/exchange`` envelope; ``action`` stays the raw dict because the signature hashes it."""

    action: dict
    nonce: U64
    signature: SignatureWire
    vaultAddress: Address | None = None
    expiresAfter: U64 | None = None


def decode_exchange_request(payload: Any) -> ExchangeRequest:
    """Return the typed envelope (action left raw) or raise `BadRequest`."""
    return _convert(payload, ExchangeRequest)


# ---------------------------------------------------------------- actions


class LimitWire(msgspec.Struct, frozen=True):
    tif: Literal["Gtc", "Ioc", "Alo"]


class TriggerWire(msgspec.Struct, frozen=True):
    isMarket: bool
    triggerPx: Decimal
    tpsl: Literal["tp", "sl"]


class OrderTypeWire(msgspec.Struct, frozen=True):
    limit: LimitWire | None = None
    trigger: TriggerWire | None = None


class OrderWire(msgspec.Struct, frozen=True):
    a: U32
    b: bool
    p: Decimal
    s: Decimal
    r: bool
    t: OrderTypeWire
    c: Cloid | None = None


class BuilderWire(msgspec.Struct, frozen=True):
    b: Address
    f: U32


class PriorityGrouping(msgspec.Struct, frozen=True):
    p: U64


class Action(msgspec.Struct, tag_field="type", frozen=True):
    """Base of every ``/exchange`` action; the subclass tag is the ``type`` value."""


class OrderAction(Action, tag="order"):
    orders: list[OrderWire]
    grouping: Literal["na", "normalTpsl", "positionTpsl"] | PriorityGrouping = "na"
    builder: BuilderWire | None = None


class CancelWire(msgspec.Struct, frozen=True):
    a: U32
    o: U64


class CancelAction(Action, tag="cancel"):
    cancels: list[CancelWire]


class CancelByCloidWire(msgspec.Struct, frozen=True):
    asset: U32
    cloid: Cloid


class CancelByCloidAction(Action, tag="cancelByCloid"):
    cancels: list[CancelByCloidWire]


class ModifyAction(Action, tag="modify"):
    oid: U64 | Cloid
    order: OrderWire


class ModifyWire(msgspec.Struct, frozen=True):
    oid: U64 | Cloid
    order: OrderWire


class BatchModifyAction(Action, tag="batchModify"):
    modifies: list[ModifyWire]


class ScheduleCancelAction(Action, tag="scheduleCancel"):
    time: U64 | None = None


class UpdateLeverageAction(Action, tag="updateLeverage"):
    asset: U32
    isCross: bool
    leverage: U32


class UpdateIsolatedMarginAction(Action, tag="updateIsolatedMargin"):
    asset: U32
    isBuy: bool
    ntli: I64


class NoopAction(Action, tag="noop"):
    pass


class UserSignedAction(Action):
    signatureChainId: Annotated[str, msgspec.Meta(pattern="^0x[0-9a-fA-F]{1,16}$")]
    hyperliquidChain: Literal["Mainnet", "Testnet"]


class ApproveAgentAction(UserSignedAction, tag="approveAgent"):
    agentAddress: Address
    nonce: U64
    agentName: str | None = None


class UsdClassTransferAction(UserSignedAction, tag="usdClassTransfer"):
    amount: Annotated[str, msgspec.Meta(max_length=100)]
    toPerp: bool
    nonce: U64


class UsdSendAction(UserSignedAction, tag="usdSend"):
    destination: Address
    amount: Annotated[str, msgspec.Meta(max_length=40)]
    time: U64


class ApproveBuilderFeeAction(UserSignedAction, tag="approveBuilderFee"):
    maxFeeRate: Annotated[str, msgspec.Meta(max_length=40)]
    builder: Address
    nonce: U64


L1_ACTION_TYPES = (
    OrderAction,
    CancelAction,
    CancelByCloidAction,
    ModifyAction,
    BatchModifyAction,
    ScheduleCancelAction,
    UpdateLeverageAction,
    UpdateIsolatedMarginAction,
    NoopAction,
)
USER_SIGNED_ACTION_TYPES = (ApproveAgentAction, ApproveBuilderFeeAction, UsdClassTransferAction, UsdSendAction)
_ACTION_UNION: Any = Union[L1_ACTION_TYPES + USER_SIGNED_ACTION_TYPES]  # noqa: UP007

UNSUPPORTED_ACTION_TYPES = {
    "setReferrer": "l1",
    "createSubAccount": "l1",
    "subAccountTransfer": "l1",
    "subAccountSpotTransfer": "l1",
    "vaultTransfer": "l1",
    "twapOrder": "l1",
    "twapCancel": "l1",
    "evmUserModify": "l1",
    "agentEnableDexAbstraction": "l1",
    "agentSetAbstraction": "l1",
    "spotDeploy": "l1",
    "perpDeploy": "l1",
    "CSignerAction": "l1",
    "CValidatorAction": "l1",
    "gossipPriorityBid": "l1",
    "spotSend": "user",
    "withdraw3": "user",
    "sendAsset": "user",
    "tokenDelegate": "user",
    "convertToMultiSigUser": "user",
    "userDexAbstraction": "user",
    "userSetAbstraction": "user",
}
"""Actions the SDK can send that this venue verifies but does not execute (answered with an error)."""


def decode_action(action: dict) -> Action:
    """Return the typed action or raise `BadRequest` (unknown type, missing or mistyped fields)."""
    decoded = _convert(action, _ACTION_UNION)
    for wire in _order_wires(decoded):
        if (wire.t.limit is None) == (wire.t.trigger is None):
            raise BadRequest("order type must hold exactly one of limit or trigger")
    return decoded


def _order_wires(action: Action) -> list[OrderWire]:
    if isinstance(action, OrderAction):
        return action.orders
    if isinstance(action, BatchModifyAction):
        return [modify.order for modify in action.modifies]
    if isinstance(action, ModifyAction):
        return [action.order]
    return []


# ---------------------------------------------------------------- market data (WebSocket ``data`` and /info answers)
# Prices and sizes stay decimal strings here; `pairflow.hyperliquid.parse` turns them into floats and checks signs.


class TradeWire(msgspec.Struct, frozen=True):
    """One trade of the ``trades`` channel or a ``recentTrades`` answer."""

    coin: str
    side: str
    px: str
    sz: str
    time: int
    tid: int
    hash: str = ""


class LevelWire(msgspec.Struct, frozen=True):
    """One price level of ``l2Book`` (``n`` orders) or one side of ``bbo``."""

    px: str
    sz: str
    n: int = 0


class L2BookWire(msgspec.Struct, frozen=True):
    """An ``l2Book`` frame or ``/info l2Book`` answer: ``levels`` is ``[bids, asks]``."""

    coin: str
    time: int
    levels: list[list[LevelWire]]


class BboWire(msgspec.Struct, frozen=True):
    """A ``bbo`` frame: ``bbo`` is ``[bid, ask]``, an empty side is null."""

    coin: str
    time: int
    bbo: list[LevelWire | None]


class CandleWire(msgspec.Struct, frozen=True):
    """One candle of a ``candle`` frame or a ``candleSnapshot`` answer."""

    s: str
    i: str
    t: int
    T: int
    o: str
    c: str
    h: str
    l: str  # noqa: E741 - the wire's name for the low price
    v: str
    n: int


class AssetCtxWire(msgspec.Struct, frozen=True):
    """A perp asset context (``activeAssetCtx`` frame, ``metaAndAssetCtxs`` answer)."""

    markPx: str
    oraclePx: str
    openInterest: str
    funding: str
    dayNtlVlm: str
    prevDayPx: str
    midPx: str | None = None
    premium: str | None = None


class ActiveAssetCtxWire(msgspec.Struct, frozen=True):
    coin: str
    ctx: AssetCtxWire


class MetaAssetWire(msgspec.Struct, frozen=True):
    name: str
    isDelisted: bool = False


class MetaWire(msgspec.Struct, frozen=True):
    universe: list[MetaAssetWire]


class FundingRowWire(msgspec.Struct, frozen=True):
    """One row of a ``fundingHistory`` answer."""

    coin: str
    time: int
    fundingRate: str
    premium: str | None = None


class FeeScheduleWire(msgspec.Struct, frozen=True):
    spotCross: str | None = None
    spotAdd: str | None = None


class UserFeesWire(msgspec.Struct, frozen=True):
    """A ``userFees`` answer; older ones carry no spot rates (UNSET tells an absent rate from a null one)."""

    feeSchedule: FeeScheduleWire
    userCrossRate: str
    userAddRate: str
    userSpotCrossRate: str | None | msgspec.UnsetType = msgspec.UNSET
    userSpotAddRate: str | None | msgspec.UnsetType = msgspec.UNSET


# ---------------------------------------------------------------- WebSocket subscriptions


class Subscription(msgspec.Struct, tag_field="type", frozen=True, omit_defaults=True):
    """Base of every ``/ws`` subscription object; the subclass tag is the ``type`` value."""


class AllMidsSubscription(Subscription, tag="allMids"):
    pass


class CoinSubscription(Subscription):
    coin: Coin


class L2BookSubscription(CoinSubscription, tag="l2Book"):
    nSigFigs: Annotated[int, msgspec.Meta(ge=2, le=5)] | None = None


class TradesSubscription(CoinSubscription, tag="trades"):
    pass


class BboSubscription(CoinSubscription, tag="bbo"):
    pass


class ActiveAssetCtxSubscription(CoinSubscription, tag="activeAssetCtx"):
    pass


class CandleSubscription(CoinSubscription, tag="candle"):
    interval: CandleInterval


class UserSubscription(Subscription):
    user: Address


class UserEventsSubscription(UserSubscription, tag="userEvents"):
    pass


class UserFillsSubscription(UserSubscription, tag="userFills"):
    aggregateByTime: bool = False


class OrderUpdatesSubscription(UserSubscription, tag="orderUpdates"):
    pass


class UserFundingsSubscription(UserSubscription, tag="userFundings"):
    pass


class UserNonFundingLedgerUpdatesSubscription(UserSubscription, tag="userNonFundingLedgerUpdates"):
    pass


class WebData2Subscription(UserSubscription, tag="webData2"):
    pass


class ActiveAssetDataSubscription(UserSubscription, tag="activeAssetData"):
    coin: Coin


SUBSCRIPTION_TYPES: tuple[type[Subscription], ...] = (
    AllMidsSubscription, L2BookSubscription, TradesSubscription, BboSubscription, ActiveAssetCtxSubscription,
    CandleSubscription, UserEventsSubscription, UserFillsSubscription, OrderUpdatesSubscription,
    UserFundingsSubscription, UserNonFundingLedgerUpdatesSubscription, WebData2Subscription,
    ActiveAssetDataSubscription,
)
_SUBSCRIPTION_UNION: Any = Union[SUBSCRIPTION_TYPES]  # noqa: UP007


def decode_subscription(payload: Any) -> Subscription:
    """Return the typed subscription object of a subscribe/unsubscribe message or raise `BadRequest`."""
    return _convert(payload, _SUBSCRIPTION_UNION)
