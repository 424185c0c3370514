"""``POST /info``: answer each decoded request type from the engine's typed queries, formatted for the wire.

Types the venue has no concept of (staking, vaults, referrals, deploy
auctions, ...) answer the shape the real API gives an account that never used
the feature, so SDK helpers that call them keep working.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pairflow.hyperliquid import schemas as rq
from pairflow.hyperliquid.schemas import BadRequest
from venue.engine import EngineError

from .wire import account, market

__all__ = ["InfoService"]

LATEST_CALENDAR_MS = 253_370_764_800_000
"""9999-01-01 UTC: later request times are clamped to it, as calendar intervals ('1M') need a real date."""
PORTFOLIO_PERIODS = ("day", "week", "month", "allTime", "perpDay", "perpWeek", "perpMonth", "perpAllTime")


def _calendar_time(time_ms: int | None) -> int | None:
    return None if time_ms is None else min(time_ms, LATEST_CALENDAR_MS)


def _default_dex(dex: str) -> None:
    if dex:
        raise BadRequest(f"unknown perp dex {dex!r}: only the default dex exists on this venue")


def _user_role(engine: Any, user: str) -> dict[str, Any]:
    if engine.is_user(user):
        return {"role": "user"}
    master = engine.resolve_signer(user)
    if master is not None and master.lower() != user:
        return {"role": "agent", "data": {"user": master.lower()}}
    return {"role": "missing"}


def _portfolio() -> list:
    return [[period, {"accountValueHistory": [], "pnlHistory": [], "vlm": "0.0"}] for period in PORTFOLIO_PERIODS]


class InfoService:
    """Dispatch typed ``/info`` requests to the engine.

    Parameters
    ----------
    engine
        The `venue.engine.Engine`; every call holds ``engine.lock``.
    clock
        Exchange time in milliseconds (for ``exchangeStatus``).
    """

    def __init__(self, engine: Any, clock: Callable[[], int]) -> None:
        self.engine = engine
        self.clock = clock
        self._handlers: dict[type, Callable[[Any], Any]] = {
            rq.MetaRequest: self._meta,
            rq.SpotMetaRequest: lambda r: market.spot_meta(),
            rq.MetaAndAssetCtxsRequest: self._meta_and_asset_ctxs,
            rq.SpotMetaAndAssetCtxsRequest: lambda r: market.spot_meta_and_asset_ctxs(),
            rq.AllMidsRequest: self._all_mids,
            rq.L2BookRequest: lambda r: market.l2_book(engine.l2_book(r.coin, n_sig_figs=r.nSigFigs)),
            rq.CandleSnapshotRequest: lambda r: [market.candle(bar) for bar in engine.candle_snapshot(
                r.req.coin, r.req.interval, _calendar_time(r.req.startTime), _calendar_time(r.req.endTime))],
            rq.ClearinghouseStateRequest: self._clearinghouse_state,
            rq.SpotClearinghouseStateRequest: lambda r: account.spot_clearinghouse_state(
                engine.spot_balances(r.user.lower())),
            rq.OpenOrdersRequest: self._open_orders,
            rq.FrontendOpenOrdersRequest: self._frontend_open_orders,
            rq.UserFillsRequest: lambda r: [account.fill(fill) for fill in engine.user_fills(r.user.lower())],
            rq.UserFillsByTimeRequest: lambda r: [account.fill(fill) for fill in engine.user_fills_by_time(
                r.user.lower(), r.startTime, r.endTime, aggregate=r.aggregateByTime)],
            rq.FundingHistoryRequest: lambda r: [
                market.funding_rate(row) for row in engine.funding_history(r.coin, r.startTime, r.endTime)],
            rq.UserFundingRequest: lambda r: [
                account.user_funding(row) for row in engine.user_funding(r.user.lower(), r.startTime, r.endTime)],
            rq.UserNonFundingLedgerUpdatesRequest: lambda r: [
                account.ledger_update(row) for row in engine.user_non_funding_ledger_updates(
                    r.user.lower(), r.startTime, r.endTime)],
            rq.OrderStatusRequest: lambda r: account.order_status_response(engine.order_status(
                r.user.lower(), r.oid.lower() if isinstance(r.oid, str) else r.oid)),
            rq.UserFeesRequest: lambda r: account.user_fees(engine.user_fees(r.user.lower())),
            rq.UserRateLimitRequest: lambda r: account.user_rate_limit(engine.user_rate_limit(r.user.lower())),
            rq.HistoricalOrdersRequest: lambda r: [
                account.historical_order(record) for record in engine.historical_orders(r.user.lower())],
            rq.ExtraAgentsRequest: lambda r: account.extra_agents(engine.extra_agents(r.user.lower())),
            rq.UserRoleRequest: lambda r: _user_role(engine, r.user.lower()),
            rq.RecentTradesRequest: lambda r: [market.trade(trade) for trade in engine.recent_trades(r.coin)],
            rq.ReferralRequest: lambda r: {
                "referredBy": None, "cumVlm": "0.0", "unclaimedRewards": "0.0", "claimedRewards": "0.0",
                "builderRewards": "0.0", "referrerState": {"stage": "needToTrade", "data": {"required": "10000.0"}},
                "rewardHistory": []},
            rq.SubAccountsRequest: lambda r: None,
            rq.PortfolioRequest: lambda r: _portfolio(),
            rq.UserTwapSliceFillsRequest: lambda r: [],
            rq.UserVaultEquitiesRequest: lambda r: [],
            rq.DelegatorSummaryRequest: lambda r: {
                "delegated": "0.0", "undelegated": "0.0", "totalPendingWithdrawal": "0.0", "nPendingWithdrawals": 0},
            rq.DelegationsRequest: lambda r: [],
            rq.DelegatorRewardsRequest: lambda r: [],
            rq.DelegatorHistoryRequest: lambda r: [],
            rq.UserToMultiSigSignersRequest: lambda r: None,
            rq.UserDexAbstractionRequest: lambda r: False,
            rq.UserAbstractionRequest: lambda r: "disabled",
            rq.SpotDeployStateRequest: lambda r: {"states": [], "gasAuction": None},
            rq.MaxBuilderFeeRequest: lambda r: engine.max_builder_fee(r.user.lower(), r.builder.lower()),
            rq.PerpDexsRequest: lambda r: [None],
            rq.PerpDeployAuctionStatusRequest: lambda r: {
                "startTimeSeconds": 0, "durationSeconds": 111600, "startGas": "500.0", "currentGas": None,
                "endGas": None},
            rq.ExchangeStatusRequest: lambda r: {"time": self.clock(), "specialStatuses": None},
        }
        missing = set(rq.INFO_REQUEST_TYPES) - set(self._handlers)
        if missing:
            raise RuntimeError(f"no /info handler for {sorted(cls.__name__ for cls in missing)}")

    def handle(self, request: rq.InfoRequest) -> Any:
        """Return the JSON-ready response for one typed request (raise `BadRequest` for HTTP 422).

        A request the engine refuses (an unknown coin) answers ``null``, as the real API does
        for coins it does not list.
        """
        handler = self._handlers[type(request)]
        with self.engine.lock:
            try:
                return handler(request)
            except EngineError:
                return None

    def _meta(self, request: rq.MetaRequest) -> Any:
        _default_dex(request.dex)
        return market.meta(self.engine.assets)

    def _meta_and_asset_ctxs(self, request: rq.MetaAndAssetCtxsRequest) -> Any:
        _default_dex(request.dex)
        return market.meta_and_asset_ctxs(self.engine.assets, self.engine.asset_contexts())

    def _all_mids(self, request: rq.AllMidsRequest) -> Any:
        _default_dex(request.dex)
        return market.all_mids(self.engine.all_mids())

    def _clearinghouse_state(self, request: rq.ClearinghouseStateRequest) -> Any:
        _default_dex(request.dex)
        return account.clearinghouse_state(self.engine.clearinghouse_state(request.user.lower()))

    def _open_orders(self, request: rq.OpenOrdersRequest) -> Any:
        _default_dex(request.dex)
        return [account.basic_order(view) for view in self.engine.open_orders(request.user.lower())]

    def _frontend_open_orders(self, request: rq.FrontendOpenOrdersRequest) -> Any:
        _default_dex(request.dex)
        return [account.frontend_order(view) for view in self.engine.open_orders(request.user.lower())]
