"""Typed decoding of ``/info`` requests and ``/exchange`` envelopes and actions.

Everything the real venue would refuse to deserialize (unknown ``type``,
missing fields, wrong JSON types, out-of-range integers, non-decimal price
strings) raises `BadRequest`, which the HTTP layer answers with 422 and the
real body text. Unknown extra keys are accepted and ignored, as the SDK sends
some (``dex``, ``endTime: null``, ``aggregateByTime``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "DESERIALIZE_ERROR",
    "BadRequest",
    "ExchangeRequest",
    "INFO_REQUEST_TYPES",
    "L1_ACTION_TYPES",
    "USER_SIGNED_ACTION_TYPES",
    "UNSUPPORTED_ACTION_TYPES",
    "decode_action",
    "decode_exchange_request",
    "decode_info_request",
    "parse_json",
]

DESERIALIZE_ERROR = "Failed to deserialize the JSON body into the target type"


class BadRequest(Exception):
    """Raised when a body cannot be decoded into a request; ``detail`` names the cause for logs."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _reject_constant(name: str) -> Any:
    raise BadRequest(f"JSON constant {name} is not allowed")


def parse_json(body: bytes) -> Any:
    """Parse a request body keeping object keys in arrival order (the L1 hash depends on it)."""
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except BadRequest:
        raise
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"invalid JSON: {exc}") from None


Address = Annotated[str, msgspec.Meta(pattern="^0x[0-9a-fA-F]{40}$")]
Cloid = Annotated[str, msgspec.Meta(pattern="^0x[0-9a-fA-F]{32}$")]
U64 = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
U32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
I64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Decimal = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,20}(\.[0-9]{1,20})?$")]
Interval = Literal["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "1w", "1M"]


# ---------------------------------------------------------------- /info


class InfoRequest(msgspec.Struct, tag_field="type", frozen=True):
    """Base of every ``/info`` request; the subclass tag is the ``type`` value."""


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
    interval: Interval
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
_INFO_UNION: Any = INFO_REQUEST_TYPES[0]
for _cls in INFO_REQUEST_TYPES[1:]:
    _INFO_UNION = _INFO_UNION | _cls


def decode_info_request(payload: Any) -> InfoRequest:
    """Return the typed ``/info`` request or raise `BadRequest`."""
    try:
        return msgspec.convert(payload, _INFO_UNION, strict=True)
    except msgspec.ValidationError as exc:
        raise BadRequest(str(exc)) from None


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
    try:
        return msgspec.convert(payload, ExchangeRequest, strict=True)
    except msgspec.ValidationError as exc:
        raise BadRequest(str(exc)) from None


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
USER_SIGNED_ACTION_TYPES = (ApproveAgentAction, UsdClassTransferAction, UsdSendAction)
_ACTION_UNION: Any = L1_ACTION_TYPES[0]
for _cls in L1_ACTION_TYPES[1:] + USER_SIGNED_ACTION_TYPES:
    _ACTION_UNION = _ACTION_UNION | _cls

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
    "approveBuilderFee": "user",
    "tokenDelegate": "user",
    "convertToMultiSigUser": "user",
    "userDexAbstraction": "user",
    "userSetAbstraction": "user",
}
"""Actions the SDK can send that this venue verifies but does not execute (answered with an error)."""


def decode_action(action: dict) -> Action:
    """Return the typed action or raise `BadRequest` (unknown type, missing or mistyped fields)."""
    try:
        decoded = msgspec.convert(action, _ACTION_UNION, strict=True)
    except msgspec.ValidationError as exc:
        raise BadRequest(str(exc)) from None
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
