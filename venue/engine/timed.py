"""Timed events: what moving time drives (premium sampling, hourly funding, scheduled cancels,
triggers on the mark, liquidations) and the per-advance ctx and candle events."""

from __future__ import annotations

from decimal import Decimal

from . import funding as funding_mod
from .accounts import Account, tx_hash
from .constants import DAY_MS
from .liquidation import LIQUIDATOR, accounts_to_liquidate
from .margin import figures
from .matching import MatchingDriver
from .orders import Order
from .rules import MONEY_DECIMALS, dec, rounded
from .triggers import market_price
from .types import Channel, EngineError, EngineEvent
from .views import CanceledOrder, FillLiquidation, FundingPayment, FundingRate, Liquidation


class TimedEvents(MatchingDriver):
    """Run ``advance(now_ms)`` over the shared state."""

    def advance(self, now_ms: int) -> None:
        """Move engine time forward and run what time drives.

        Runs, in order: premium sampling (every 5 s, when the funding model uses it) and hourly funding for each hour boundary crossed,
        scheduled cancels, triggers on the current mark, liquidations, then book/ctx events.
        """
        if now_ms < self.state.now_ms:
            raise EngineError(f"Time cannot go backwards: {now_ms} was received, engine time is {self.state.now_ms}")
        self.events.begin()
        previous = self.state.now_ms
        if previous > 0:
            self._run_funding(previous, now_ms)
        self.state.set_time(now_ms)
        for account in list(self.state.accounts.values()):
            if account.scheduled_cancel is not None and account.scheduled_cancel <= now_ms:
                account.scheduled_cancel = None
                day = now_ms // DAY_MS
                if account.schedule_day != day:
                    account.schedule_day, account.schedule_count = day, 0
                account.schedule_count += 1
                for order in list(account.open_orders.values()):
                    self.matching.cancel_order(order, "scheduledCancel")
        if self.state.armed:
            self.matching.after_trading({asset for asset, armed in enumerate(self.state.triggers) if armed})
        self._liquidate()
        if self.events.pending is not None:
            for spec in self.state.specs:
                self.events.other(EngineEvent(Channel.CTX, spec.name, None))
            self.events.pending["candle"] = self.state.candle_dirty
        self.state.candle_dirty = set()
        self.events.flush()

    def _run_funding(self, start: int, end: int) -> None:
        hour = funding_mod.HOUR_MS
        step = funding_mod.SAMPLE_MS
        time_ms = start
        sampling = self.state.funding_model.uses_premium
        while time_ms < end:
            boundary = (time_ms // hour + 1) * hour
            segment_end = min(end, boundary)
            samples = segment_end // step - time_ms // step
            if samples and sampling:
                for asset in range(len(self.state.specs)):
                    premium = self._premium(asset)
                    if premium is not None:
                        self.state.funding[asset].sample(premium, samples)
            if segment_end == boundary:
                self.state.set_time(boundary)
                self._settle_funding(boundary)
            time_ms = segment_end

    def _premium(self, asset: int) -> Decimal | None:
        oracle = self.state.oracle[asset]
        if oracle is None:
            oracle = self.state.mark(asset)
            if oracle is None:
                return None
        pxd = self.state.pxd[asset]
        notional = funding_mod.impact_notional(self.state.specs[asset].name) * 10**MONEY_DECIMALS
        book = self.state.books[asset]
        bid = book.impact_price(True, notional)
        ask = book.impact_price(False, notional)
        return funding_mod.premium_of(None if bid is None else Decimal(bid).scaleb(-pxd),
                                      None if ask is None else Decimal(ask).scaleb(-pxd), Decimal(oracle).scaleb(-pxd))

    def _settle_funding(self, time_ms: int) -> None:
        for asset, spec in enumerate(self.state.specs):
            accumulated = self.state.funding[asset]
            oracle = self.state.reference(asset)
            if oracle is None:
                accumulated.reset()
                continue
            premium = accumulated.average()
            rate = self.state.funding_model.hourly_rate(spec.name, time_ms, premium)
            rate_10 = rounded(rate, 10)
            self.state.funding_rows[asset].append(FundingRate(spec.name, rate_10, rounded(premium, 10), time_ms))
            samples = accumulated.samples
            accumulated.reset()
            for address in sorted(self.state.accounts):
                account = self.state.accounts[address]
                position = account.positions.get(asset)
                if position is None:
                    continue
                paid = funding_mod.funding_paid(position.szi, spec.sz_decimals, oracle, self.state.pxd[asset], rate)
                if account.settings[asset][0]:
                    account.cash -= paid
                else:
                    position.iso_margin -= paid
                position.cum_all += paid
                position.cum_open += paid
                position.cum_change += paid
                payment = FundingPayment(time_ms, tx_hash("funding", address, asset, time_ms), spec.name,
                                         dec(-paid, MONEY_DECIMALS), dec(position.szi, spec.sz_decimals), rate_10,
                                         samples)
                account.fundings.append(payment)
                self.events.other(EngineEvent(Channel.FUNDING, address, payment))

    def _liquidate(self) -> None:
        for account, assets in accounts_to_liquidate(self.state):
            lid = self.state.next_lid
            self.state.next_lid += 1
            fig = figures(account, self.state.specs, self.state.mark_or_zero)
            cross = any(account.settings[a][0] for a in assets)
            for order in list(account.open_orders.values()):
                if cross or order.asset in assets:
                    self.matching.cancel_order(order, "liquidatedCanceled")
                    if self.events.pending is not None:
                        self.events.push("nonUserCancel", account.address, CanceledOrder(order.coin, order.oid))
            touched: set[int] = set()
            for asset in assets:
                self._liquidate_position(account, asset, touched)
            if self.events.pending is not None:
                self.events.other(EngineEvent(Channel.LIQUIDATION, account.address, Liquidation(
                    lid, LIQUIDATOR, account.address, dec(fig.total_ntl, MONEY_DECIMALS),
                    dec(fig.total_value, MONEY_DECIMALS))))

    def _liquidate_position(self, account: Account, asset: int, touched: set) -> None:
        position = account.positions.get(asset)
        mark = self.state.mark(asset)
        if position is None or mark is None:
            return
        spec = self.state.specs[asset]
        is_buy = position.szi < 0
        pxd = self.state.pxd[asset]
        order = Order(self.state.next_oid, account.address, asset, spec.name, is_buy, market_price(mark, is_buy, pxd),
                      abs(position.szi), self.state.now_ms, "Ioc", True, None, pxd, spec.sz_decimals)
        self.state.next_oid += 1
        order.is_market = True
        self.state.orders[order.oid] = order
        account.orders.append(order)
        info = FillLiquidation(account.address, dec(mark, self.state.pxd[asset]), "market")
        self.state.liquidation = info
        try:
            self.matching.match(account, order, touched)
            if order.sz:
                self.state.liquidation = FillLiquidation(info.liquidated_user, info.mark_px, "backstop")
                vault = self.accounting.account(LIQUIDATOR)
                backstop = Order(self.state.next_oid, LIQUIDATOR, asset, spec.name, not is_buy, mark, order.sz,
                                 self.state.now_ms, "Gtc", False, None, self.state.pxd[asset], spec.sz_decimals)
                self.state.next_oid += 1
                self.state.orders[backstop.oid] = backstop
                vault.orders.append(backstop)
                self.matching.trade(account, order, backstop, mark, order.sz, touched)
                sweeps, self.state.sweeps = self.state.sweeps, []
                for swept_account, swept_asset in sweeps:
                    self.matching.sweep_reduce_only(swept_account, swept_asset)
                backstop.sz = 0
                self.events.status(backstop, "filled")
                order.sz = 0
        finally:
            self.state.liquidation = None
        self.events.status(order, "filled")
