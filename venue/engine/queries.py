"""Wire-shaped read-only queries: the /info responses the venue serves."""

from __future__ import annotations

import datetime
from decimal import Decimal

from . import candles as candle_mod
from . import funding as funding_mod
from .accounting import Accounting
from .accounts import F_CLOSED, F_FEE, F_OID, F_PX, F_PXD, F_SZ, F_SZD, F_TIME, fill_wire
from .constants import DAY_MS, INITIAL_REQUESTS, MAX_TIME_ROWS, MAX_USER_ROWS
from .fees import rate_text
from .margin import clearinghouse_wire
from .events import trade_wire
from .rules import MONEY_DECIMALS, fmt, fmt_decimal
from .state import EngineState
from .types import EngineError


class Queries:
    """Answer /info queries from the shared state without changing it (user queries create no account)."""

    def __init__(self, state: EngineState, accounting: Accounting) -> None:
        self.state = state
        self.accounting = accounting

    def meta(self) -> dict:
        """Return the ``meta`` response (universe, margin tables, collateral token 0)."""
        universe = []
        tables = {}
        for spec in self.state.specs:
            entry = {"szDecimals": spec.sz_decimals, "name": spec.name, "maxLeverage": spec.max_leverage,
                     "marginTableId": spec.max_leverage}
            if spec.only_isolated:
                entry["onlyIsolated"] = True
            universe.append(entry)
            tables[spec.max_leverage] = [spec.max_leverage, {
                "description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": spec.max_leverage}]}]
        return {"universe": universe, "marginTables": [tables[key] for key in sorted(tables)], "collateralToken": 0}

    def spot_meta(self) -> dict:
        """Return a minimal ``spotMeta``: USDC (token 0), PURR (token 1) and the PURR/USDC pair."""
        return {
            "tokens": [
                {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0,
                 "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054", "isCanonical": True, "evmContract": None,
                 "fullName": None},
                {"name": "PURR", "szDecimals": 0, "weiDecimals": 5, "index": 1,
                 "tokenId": "0xc1fb593aeffbeb02f85e0308e9956a90", "isCanonical": True, "evmContract": None,
                 "fullName": None},
            ],
            "universe": [{"name": "PURR/USDC", "tokens": [1, 0], "index": 0, "isCanonical": True}],
        }

    def spot_meta_and_asset_ctxs(self) -> list:
        """Return ``[spotMeta, ctxs]``; the PURR/USDC pair has no market here, so its prices are zero."""
        return [self.spot_meta(), [{"dayNtlVlm": "0.0", "markPx": "0.0", "midPx": None, "prevDayPx": "0.0",
                                    "circulatingSupply": "0.0", "coin": "PURR/USDC"}]]

    def _ctx(self, asset: int) -> dict:
        spec = self.state.specs[asset]
        pxd = self.state.pxd[asset]
        book = self.state.books[asset]
        bid, ask = book.best_bid(), book.best_ask()
        mark = self.state.mark(asset)
        oracle = self.state.reference(asset)
        day = self.state.candles[asset].window(self.state.now_ms - DAY_MS, self.state.now_ms + 1)
        notional = sum(bar[6] for bar in day)
        base = sum(bar[4] for bar in day)
        open_interest = sum(account.positions[asset].szi for account in self.state.accounts.values()
                            if asset in account.positions and account.positions[asset].szi > 0)
        impact = funding_mod.impact_notional(spec.name) * 10**MONEY_DECIMALS
        impact_bid, impact_ask = book.impact_price(True, impact), book.impact_price(False, impact)
        state = self.state.funding[asset]
        premium = state.last_premium
        return {
            "funding": fmt_decimal(funding_mod.hourly_rate(state.average()), 10),
            "openInterest": fmt(open_interest, spec.sz_decimals),
            "prevDayPx": fmt(day[0][0] if day else (oracle or 0), pxd),
            "dayNtlVlm": fmt(notional, MONEY_DECIMALS),
            "premium": None if premium is None else fmt_decimal(premium, 10),
            "oraclePx": fmt(oracle or 0, pxd),
            "markPx": fmt(mark or 0, pxd),
            "midPx": None if bid is None or ask is None else fmt_decimal(Decimal(bid + ask).scaleb(-pxd) / 2, pxd + 1),
            "impactPxs": None if impact_bid is None or impact_ask is None else [fmt(impact_bid, pxd), fmt(impact_ask, pxd)],
            "dayBaseVlm": fmt(base, spec.sz_decimals),
        }

    def meta_and_asset_ctxs(self) -> list:
        """Return ``[meta, ctxs]`` with one ctx per universe entry."""
        return [self.meta(), [self._ctx(asset) for asset in range(len(self.state.specs))]]

    def active_asset_ctx(self, coin: str) -> dict:
        """Return the ``activeAssetCtx`` WS payload ``{"coin","ctx"}``."""
        return {"coin": coin, "ctx": self._ctx(self.state.asset_index(coin))}

    def all_mids(self) -> dict:
        """Return coin -> mid (book mid, else last trade, else oracle) for coins that have one."""
        out = {}
        for asset, spec in enumerate(self.state.specs):
            book = self.state.books[asset]
            bid, ask = book.best_bid(), book.best_ask()
            pxd = self.state.pxd[asset]
            if bid is not None and ask is not None:
                out[spec.name] = fmt_decimal(Decimal(bid + ask).scaleb(-pxd) / 2, pxd + 1)
            elif self.state.last[asset] is not None:
                out[spec.name] = fmt(self.state.last[asset], pxd)
            elif self.state.oracle[asset] is not None:
                out[spec.name] = fmt(self.state.oracle[asset], pxd)
        return out

    def l2_book(self, coin: str, n_sig_figs: int | None = None, n_levels: int = 20) -> dict:
        """Return the ``l2Book`` snapshot: up to ``n_levels`` (max 20) a side, optionally aggregated."""
        asset = self.state.asset_index(coin)
        if n_sig_figs is not None and not 2 <= n_sig_figs <= 5:
            raise EngineError(f"nSigFigs must be 2..5 or null, received {n_sig_figs}")
        book = self.state.books[asset]
        levels = min(n_levels, 20)
        pxd, szd = self.state.pxd[asset], self.state.specs[asset].sz_decimals
        return {"coin": coin, "time": self.state.now_ms,
                "levels": [book.levels(True, levels, n_sig_figs, pxd, szd), book.levels(False, levels, n_sig_figs, pxd, szd)]}

    def bbo(self, coin: str) -> dict:
        """Return the ``bbo`` payload ``{"coin","time","bbo":[bid|null, ask|null]}``."""
        snapshot = self.l2_book(coin, None, 1)
        bids, asks = snapshot["levels"]
        return {"coin": coin, "time": self.state.now_ms, "bbo": [bids[0] if bids else None, asks[0] if asks else None]}

    def candle_snapshot(self, coin: str, interval: str, start_ms: int, end_ms: int | None = None) -> list:
        """Return candles opening in ``[start_ms, end_ms]``, the last one possibly still forming.

        ``end_ms`` defaults to engine time, which runs ahead of wall time on a sped-up venue.
        """
        if end_ms is None:
            end_ms = self.state.now_ms
        asset = self.state.asset_index(coin)
        if interval not in candle_mod.INTERVALS:
            raise EngineError(f"Unknown candle interval {interval!r}")
        pxd, szd = self.state.pxd[asset], self.state.specs[asset].sz_decimals
        return [candle_mod.candle_wire(coin, interval, opened, bar, pxd, szd)
                for opened, bar in self.state.candles[asset].aggregate(interval, start_ms, end_ms)]

    def recent_trades(self, coin: str) -> list:
        """Return the latest trades of a coin (oldest first), as WS trade dicts."""
        asset = self.state.asset_index(coin)
        coin, pxd, szd = self.state.specs[asset].name, self.state.pxd[asset], self.state.specs[asset].sz_decimals
        return [trade_wire(coin, pxd, szd, row) for row in list(self.state.recent[asset])[-10:]]

    def funding_history(self, coin: str, start_ms: int, end_ms: int | None = None) -> list:
        """Return hourly ``{"coin","fundingRate","premium","time"}`` rows in the range, ascending."""
        rows = self.state.funding_rows[self.state.asset_index(coin)]
        return [row for row in rows if row["time"] >= start_ms and (end_ms is None or row["time"] <= end_ms)][:MAX_TIME_ROWS]

    def clearinghouse_state(self, user: str) -> dict:
        """Return the ``clearinghouseState`` response (§2.1 arithmetic at current marks)."""
        return clearinghouse_wire(self.accounting.existing(user), self.state.specs, self.state.mark_or_zero, self.state.now_ms)

    def spot_clearinghouse_state(self, user: str) -> dict:
        """Return ``{"balances": [...]}``: the spot USDC balance when there is one."""
        account = self.accounting.existing(user)
        if not account.spot_usdc:
            return {"balances": []}
        return {"balances": [{"coin": "USDC", "token": 0, "hold": "0.0", "total": fmt(account.spot_usdc, MONEY_DECIMALS),
                              "entryNtl": "0.0"}]}

    def open_orders(self, user: str) -> list:
        """Return the ``openOrders`` list, newest first."""
        orders = sorted(self.accounting.existing(user).open_orders.values(), key=lambda o: o.oid, reverse=True)
        return [order.basic_wire() for order in orders]

    def frontend_open_orders(self, user: str) -> list:
        """Return the ``frontendOpenOrders`` list, newest first, with waiting tp/sl under their parent."""
        orders = sorted(self.accounting.existing(user).open_orders.values(), key=lambda o: o.oid, reverse=True)
        return [order.frontend_wire() for order in orders]

    def user_fills(self, user: str) -> list:
        """Return up to 2000 most recent fills, newest first."""
        fills = self.accounting.existing(user).fills
        return [fill_wire(fill) for fill in reversed(fills[-MAX_USER_ROWS:])]

    def user_fills_by_time(self, user: str, start_ms: int, end_ms: int | None = None, aggregate: bool = False) -> list:
        """Return fills in ``[start_ms, end_ms]`` ascending (max 2000); ``aggregate`` merges an order's fills per time."""
        fills = [fill for fill in self.accounting.existing(user).fills
                 if fill[F_TIME] >= start_ms and (end_ms is None or fill[F_TIME] <= end_ms)]
        if not aggregate:
            return [fill_wire(fill) for fill in fills[:MAX_USER_ROWS]]
        merged: dict[tuple, list] = {}
        for fill in fills:
            merged.setdefault((fill[F_OID], fill[F_TIME]), []).append(fill)
        out = []
        for group in merged.values():
            wire = fill_wire(group[0])
            if len(group) > 1:
                first = group[0]
                size = sum(fill[F_SZ] for fill in group)
                notional = sum(fill[F_PX] * fill[F_SZ] for fill in group)
                wire["sz"] = fmt(size, first[F_SZD])
                wire["px"] = fmt_decimal(Decimal(notional).scaleb(-MONEY_DECIMALS)
                                         / Decimal(size).scaleb(-first[F_SZD]), first[F_PXD])
                wire["fee"] = fmt(sum(fill[F_FEE] for fill in group), MONEY_DECIMALS)
                wire["closedPnl"] = fmt(sum(fill[F_CLOSED] for fill in group), MONEY_DECIMALS)
            out.append(wire)
        return out[:MAX_USER_ROWS]

    def user_funding(self, user: str, start_ms: int, end_ms: int | None = None) -> list:
        """Return the user's funding payments in the range, ascending (max 500)."""
        return [row for row in self.accounting.existing(user).fundings
                if row["time"] >= start_ms and (end_ms is None or row["time"] <= end_ms)][:MAX_TIME_ROWS]

    def user_non_funding_ledger_updates(self, user: str, start_ms: int, end_ms: int | None = None) -> list:
        """Return deposits and transfers in the range, ascending (max 500)."""
        return [row for row in self.accounting.existing(user).ledger
                if row["time"] >= start_ms and (end_ms is None or row["time"] <= end_ms)][:MAX_TIME_ROWS]

    def order_status(self, user: str, oid_or_cloid: int | str) -> dict:
        """Return ``{"status":"order","order":{...}}`` or ``{"status":"unknownOid"}``."""
        order = self.state.find_order(self.accounting.existing(user), oid_or_cloid)
        if order is None:
            return {"status": "unknownOid"}
        return {"status": "order", "order": {"order": order.frontend_wire(), "status": order.status,
                                             "statusTimestamp": order.status_ts}}

    def historical_orders(self, user: str) -> list:
        """Return up to 2000 most recent orders (any status, rejected included), newest first."""
        orders = self.accounting.existing(user).orders[-MAX_USER_ROWS:]
        return [{"order": order.frontend_wire(), "status": order.status, "statusTimestamp": order.status_ts}
                for order in reversed(orders)]

    def user_fees(self, user: str) -> dict:
        """Return the ``userFees`` response: daily volumes, the schedule and the user's current rates."""
        account = self.accounting.existing(user)
        taker, maker = self.accounting.fee_rates(account) if user.lower() in self.state.accounts else self.state.fee_model.rates(user, 0)
        days = []
        for day in sorted(account.daily_vlm)[-14:]:
            cross, add = account.daily_vlm[day]
            date = datetime.datetime.fromtimestamp(day * 86_400, tz=datetime.timezone.utc).strftime("%Y-%m-%d")
            days.append({"date": date, "userCross": fmt(cross, MONEY_DECIMALS), "userAdd": fmt(add, MONEY_DECIMALS),
                         "exchange": fmt(sum(sum(a.daily_vlm.get(day, (0, 0))) for a in self.state.accounts.values()) // 2,
                                         MONEY_DECIMALS)})
        return {"dailyUserVlm": days, "feeSchedule": self.state.fee_model.schedule_wire(), "userCrossRate": rate_text(taker),
                "userAddRate": rate_text(maker), "userSpotCrossRate": "0.0007", "userSpotAddRate": "0.0004",
                "activeReferralDiscount": "0.0", "trial": None, "feeTrialReward": "0.0",
                "nextTrialAvailableTimestamp": None, "stakingLink": None, "activeStakingDiscount": None}

    def user_rate_limit(self, user: str) -> dict:
        """Return ``{"cumVlm","nRequestsUsed","nRequestsCap","nRequestsSurplus"}`` (10 000 + 1 per USDC traded)."""
        account = self.accounting.existing(user)
        cap = INITIAL_REQUESTS + account.cum_vlm // 10**MONEY_DECIMALS
        return {"cumVlm": fmt(account.cum_vlm, MONEY_DECIMALS), "nRequestsUsed": account.n_requests,
                "nRequestsCap": cap, "nRequestsSurplus": max(0, cap - account.n_requests)}
