"""Read-only queries: typed views of markets and accounts (the server formats them as /info responses)."""

from __future__ import annotations

import datetime
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from pairflow.hyperliquid.schemas import CANDLE_INTERVALS

from . import candles as candle_mod
from . import funding as funding_mod
from .accounting import Accounting
from .accounts import F_CLOSED, F_FEE, F_OID, F_PX, F_PXD, F_SZ, F_SZD, F_TIME, fill_view
from .constants import DAY_MS, INITIAL_REQUESTS, MAX_TIME_ROWS, MAX_USER_ROWS
from .events import trade_view
from .fees import RATE_SCALE_DECIMALS
from .margin import account_state
from .rules import MONEY_DECIMALS, dec, rounded
from .state import EngineState
from .types import EngineError
from .views import (
    AccountState, Agent, AssetContext, Bbo, BookSnapshot, Candle, DailyVolume, Fill, FundingPayment, FundingRate,
    LedgerUpdate, OrderRecord, OrderView, RateLimit, SpotBalance, Trade, UserFees,
)

_Row = TypeVar("_Row")


def _in_range(rows: Sequence[_Row], start_ms: int, end_ms: int | None, time_of: Callable[[_Row], Any]) -> Sequence[_Row]:
    """Return the rows of a time-ordered account list inside ``[start_ms, end_ms]``.

    Accounts append fills, payments and ledger entries at engine time, which never goes back, so a
    range is two binary searches: a client polling ``startTime`` every few seconds (the desk, a
    backtest every bar) costs what it reads, not the account's whole history.
    """
    lo = bisect_left(rows, start_ms, key=time_of)
    hi = len(rows) if end_ms is None else bisect_right(rows, end_ms, lo=lo, key=time_of)
    return rows[lo:hi]


def _fill_time(fill: tuple) -> int:
    return fill[F_TIME]


def _row_time(row: FundingPayment | LedgerUpdate) -> int:
    return row.time_ms


class Queries:
    """Answer queries from the shared state without changing it (user queries create no account)."""

    def __init__(self, state: EngineState, accounting: Accounting) -> None:
        self.state = state
        self.accounting = accounting

    # ------------------------------------------------------------------ market queries

    def asset_context(self, coin: str) -> AssetContext:
        """Return the market state of one perp."""
        return self._context(self.state.asset_index(coin))

    def asset_contexts(self) -> list[AssetContext]:
        """Return the market state of every perp, in asset-id order."""
        return [self._context(asset) for asset in range(self.state.n_assets)]

    def _context(self, asset: int) -> AssetContext:
        state = self.state
        spec = state.specs[asset]
        pxd = state.pxd[asset]
        book = state.books[asset]
        bid, ask = book.best_bid(), book.best_ask()
        mark = state.mark(asset)
        oracle = state.reference(asset)
        day = state.candles[asset].window(state.now_ms - DAY_MS, state.now_ms + 1)
        notional = sum(bar[6] for bar in day)
        base = sum(bar[4] for bar in day)
        open_interest = sum(account.positions[asset].szi for account in state.accounts.values()
                            if asset in account.positions and account.positions[asset].szi > 0)
        impact = funding_mod.impact_notional(spec.name) * 10**MONEY_DECIMALS
        impact_bid, impact_ask = book.impact_price(True, impact), book.impact_price(False, impact)
        accumulated = state.funding[asset]
        premium = accumulated.last_premium
        return AssetContext(
            spec.name, rounded(funding_mod.hourly_rate(accumulated.average()), 10),
            dec(open_interest, spec.sz_decimals), dec(day[0][0] if day else (oracle or 0), pxd),
            dec(notional, MONEY_DECIMALS), None if premium is None else rounded(premium, 10), dec(oracle or 0, pxd),
            dec(mark or 0, pxd), None if bid is None or ask is None else rounded(dec(bid + ask, pxd) / 2, pxd + 1),
            None if impact_bid is None or impact_ask is None else (dec(impact_bid, pxd), dec(impact_ask, pxd)),
            dec(base, spec.sz_decimals))

    def all_mids(self) -> dict[str, Decimal]:
        """Return coin -> mid (book mid, else last trade, else oracle) for coins that have one."""
        state = self.state
        out = {}
        for asset, spec in enumerate(state.specs):
            book = state.books[asset]
            bid, ask = book.best_bid(), book.best_ask()
            pxd = state.pxd[asset]
            if bid is not None and ask is not None:
                out[spec.name] = rounded(dec(bid + ask, pxd) / 2, pxd + 1)
            elif state.last[asset] is not None:
                out[spec.name] = dec(state.last[asset], pxd)
            elif state.oracle[asset] is not None:
                out[spec.name] = dec(state.oracle[asset], pxd)
        return out

    def l2_book(self, coin: str, n_sig_figs: int | None = None, n_levels: int = 20) -> BookSnapshot:
        """Return up to ``n_levels`` (max 20) levels a side, optionally aggregated to ``n_sig_figs`` (2..5)."""
        state = self.state
        asset = state.asset_index(coin)
        if n_sig_figs is not None and not 2 <= n_sig_figs <= 5:
            raise EngineError(f"nSigFigs must be 2..5 or null, received {n_sig_figs}")
        book = state.books[asset]
        levels = min(n_levels, 20)
        pxd, szd = state.pxd[asset], state.specs[asset].sz_decimals
        return BookSnapshot(coin, state.now_ms, book.levels(True, levels, n_sig_figs, pxd, szd),
                            book.levels(False, levels, n_sig_figs, pxd, szd))

    def bbo(self, coin: str) -> Bbo:
        """Return the best bid and offer (None for an empty side)."""
        snapshot = self.l2_book(coin, None, 1)
        return Bbo(coin, self.state.now_ms, snapshot.bids[0] if snapshot.bids else None,
                   snapshot.asks[0] if snapshot.asks else None)

    def candle_snapshot(self, coin: str, interval: str, start_ms: int, end_ms: int | None = None) -> list[Candle]:
        """Return candles opening in ``[start_ms, end_ms]``, the last one possibly still forming.

        ``end_ms`` defaults to engine time, which runs ahead of wall time on a sped-up venue.
        """
        state = self.state
        if end_ms is None:
            end_ms = state.now_ms
        asset = state.asset_index(coin)
        if interval not in CANDLE_INTERVALS:
            raise EngineError(f"Unknown candle interval {interval!r}")
        pxd, szd = state.pxd[asset], state.specs[asset].sz_decimals
        return [candle_mod.candle_view(coin, interval, opened, bar, pxd, szd)
                for opened, bar in state.candles[asset].aggregate(interval, start_ms, end_ms)]

    def recent_trades(self, coin: str) -> list[Trade]:
        """Return the latest trades of a coin, oldest first."""
        state = self.state
        asset = state.asset_index(coin)
        coin, pxd, szd = state.specs[asset].name, state.pxd[asset], state.specs[asset].sz_decimals
        return [trade_view(coin, pxd, szd, row) for row in list(state.recent[asset])[-10:]]

    def funding_history(self, coin: str, start_ms: int, end_ms: int | None = None) -> list[FundingRate]:
        """Return the hourly settlements in the range, ascending (max 500)."""
        rows = self.state.funding_rows[self.state.asset_index(coin)]
        return [row for row in rows
                if row.time_ms >= start_ms and (end_ms is None or row.time_ms <= end_ms)][:MAX_TIME_ROWS]

    # ------------------------------------------------------------------ user queries

    def clearinghouse_state(self, user: str) -> AccountState:
        """Return the user's perp account at current marks (PROTOCOL §2.1 arithmetic)."""
        state = self.state
        return account_state(self.accounting.existing(user), state.specs, state.mark_or_zero, state.now_ms)

    def spot_balances(self, user: str) -> list[SpotBalance]:
        """Return the spot balances: USDC when there is some."""
        account = self.accounting.existing(user)
        if not account.spot_usdc:
            return []
        return [SpotBalance("USDC", 0, Decimal(0), dec(account.spot_usdc, MONEY_DECIMALS), Decimal(0))]

    def open_orders(self, user: str) -> list[OrderView]:
        """Return the open orders, newest first, with waiting tp/sl children under their parent."""
        orders = sorted(self.accounting.existing(user).open_orders.values(), key=lambda o: o.oid, reverse=True)
        return [order.view() for order in orders]

    def user_fills(self, user: str) -> list[Fill]:
        """Return up to 2000 most recent fills, newest first."""
        fills = self.accounting.existing(user).fills
        return [fill_view(fill) for fill in reversed(fills[-MAX_USER_ROWS:])]

    def user_fills_by_time(self, user: str, start_ms: int, end_ms: int | None = None,
                           aggregate: bool = False) -> list[Fill]:
        """Return fills in ``[start_ms, end_ms]`` ascending (max 2000).

        ``aggregate`` merges the fills of one order at one time.
        """
        fills = _in_range(self.accounting.existing(user).fills, start_ms, end_ms, _fill_time)
        if not aggregate:
            return [fill_view(fill) for fill in fills[:MAX_USER_ROWS]]
        merged: dict[tuple, list] = {}
        for fill in fills:
            merged.setdefault((fill[F_OID], fill[F_TIME]), []).append(fill)
        out = []
        for group in merged.values():
            view = fill_view(group[0])
            if len(group) > 1:
                first = group[0]
                size = sum(fill[F_SZ] for fill in group)
                notional = sum(fill[F_PX] * fill[F_SZ] for fill in group)
                view = msgspec.structs.replace(
                    view, sz=dec(size, first[F_SZD]),
                    px=rounded(dec(notional, MONEY_DECIMALS) / dec(size, first[F_SZD]), first[F_PXD]),
                    fee=dec(sum(fill[F_FEE] for fill in group), MONEY_DECIMALS),
                    closed_pnl=dec(sum(fill[F_CLOSED] for fill in group), MONEY_DECIMALS))
            out.append(view)
        return out[:MAX_USER_ROWS]

    def user_funding(self, user: str, start_ms: int, end_ms: int | None = None) -> list[FundingPayment]:
        """Return the user's funding payments in the range, ascending (max 500)."""
        return list(_in_range(self.accounting.existing(user).fundings, start_ms, end_ms, _row_time)[:MAX_TIME_ROWS])

    def user_non_funding_ledger_updates(self, user: str, start_ms: int,
                                        end_ms: int | None = None) -> list[LedgerUpdate]:
        """Return deposits and transfers in the range, ascending (max 500)."""
        return list(_in_range(self.accounting.existing(user).ledger, start_ms, end_ms, _row_time)[:MAX_TIME_ROWS])

    def order_status(self, user: str, oid_or_cloid: int | str) -> OrderRecord | None:
        """Return the order with its status, or None when the user has no such order."""
        order = self.state.find_order(self.accounting.existing(user), oid_or_cloid)
        return None if order is None else order.record()

    def historical_orders(self, user: str) -> list[OrderRecord]:
        """Return up to 2000 most recent orders (any status, rejected included), newest first."""
        orders = self.accounting.existing(user).orders[-MAX_USER_ROWS:]
        return [order.record() for order in reversed(orders)]

    def user_fees(self, user: str) -> UserFees:
        """Return the user's last 14 days of volume, current rates and the fee model's base rates."""
        state = self.state
        account = self.accounting.existing(user)
        known = user.lower() in state.accounts
        taker, maker = self.accounting.fee_rates(account) if known else state.fee_model.rates(user, 0)
        base_taker, base_maker = state.fee_model.rates(user, 0)
        days = []
        for day in sorted(account.daily_vlm)[-14:]:
            cross, add = account.daily_vlm[day]
            date = datetime.datetime.fromtimestamp(day * 86_400, tz=datetime.timezone.utc).strftime("%Y-%m-%d")
            exchange = sum(sum(a.daily_vlm.get(day, (0, 0))) for a in state.accounts.values()) // 2
            days.append(DailyVolume(date, dec(cross, MONEY_DECIMALS), dec(add, MONEY_DECIMALS),
                                    dec(exchange, MONEY_DECIMALS)))
        return UserFees(days, dec(taker, RATE_SCALE_DECIMALS), dec(maker, RATE_SCALE_DECIMALS),
                        dec(base_taker, RATE_SCALE_DECIMALS), dec(base_maker, RATE_SCALE_DECIMALS))

    def user_rate_limit(self, user: str) -> RateLimit:
        """Return the request budget: 10 000 plus one request per USDC traded."""
        account = self.accounting.existing(user)
        cap = INITIAL_REQUESTS + account.cum_vlm // 10**MONEY_DECIMALS
        return RateLimit(dec(account.cum_vlm, MONEY_DECIMALS), account.n_requests, cap,
                         max(0, cap - account.n_requests))

    def extra_agents(self, user: str) -> list[Agent]:
        """Return the user's named agents."""
        return [Agent(name, agent, valid_until)
                for name, (agent, valid_until) in self.state.agents.named.get(user.lower(), {}).items()]
