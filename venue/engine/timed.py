"""What time drives: premium sampling, hourly funding, scheduled cancels, triggers, liquidations."""

from __future__ import annotations

from decimal import Decimal

from . import funding as funding_mod
from .accounts import Account, tx_hash
from .constants import DAY_MS
from .liquidation import LIQUIDATOR, accounts_to_liquidate
from .margin import figures
from .orders import Order
from .rules import MONEY_DECIMALS, fmt, fmt_decimal
from .triggers import market_price
from .types import EngineError, EngineEvent


class TimeMixin:
    """Run ``advance()``; mixed into Engine, whose state it uses."""

    # ------------------------------------------------------------------ time

    def advance(self, now_ms: int) -> None:
        """Move engine time forward and run what time drives.

        Runs, in order: premium sampling (every 5 s) and hourly funding for each hour boundary crossed,
        scheduled cancels, triggers on the current mark, liquidations, then book/ctx events.
        """
        if now_ms < self.now_ms:
            raise EngineError(f"Time cannot go backwards: {now_ms} was received, engine time is {self.now_ms}")
        self._begin()
        previous = self.now_ms
        if previous > 0:
            self._run_funding(previous, now_ms)
        self.now_ms = now_ms
        self._day = now_ms // DAY_MS
        for account in list(self._accounts.values()):
            if account.scheduled_cancel is not None and account.scheduled_cancel <= now_ms:
                account.scheduled_cancel = None
                day = now_ms // DAY_MS
                if account.schedule_day != day:
                    account.schedule_day, account.schedule_count = day, 0
                account.schedule_count += 1
                for order in list(account.open_orders.values()):
                    self._cancel_order(order, "scheduledCancel")
        if self._armed:
            self._after_trading({asset for asset, armed in enumerate(self._triggers) if armed})
        self._liquidate()
        if self._pending is not None:
            for spec in self._specs:
                self._pending["other"].append(EngineEvent("ctx", spec.name, None))
            self._pending["candle"] = self._candle_dirty
        self._candle_dirty = set()
        self._flush()

    def _run_funding(self, start: int, end: int) -> None:
        hour = funding_mod.HOUR_MS
        step = funding_mod.SAMPLE_MS
        time_ms = start
        while time_ms < end:
            boundary = (time_ms // hour + 1) * hour
            segment_end = min(end, boundary)
            samples = segment_end // step - time_ms // step
            if samples:
                for asset in range(len(self._specs)):
                    premium = self._premium(asset)
                    if premium is not None:
                        self._funding[asset].sample(premium, samples)
            if segment_end == boundary:
                self.now_ms = boundary
                self._day = boundary // DAY_MS
                self._settle_funding(boundary)
            time_ms = segment_end

    def _premium(self, asset: int) -> Decimal | None:
        oracle = self._oracle[asset]
        if oracle is None:
            oracle = self._mark(asset)
            if oracle is None:
                return None
        pxd = self._pxd[asset]
        notional = funding_mod.impact_notional(self._specs[asset].name) * 10**MONEY_DECIMALS
        book = self._books[asset]
        bid = book.impact_price(True, notional)
        ask = book.impact_price(False, notional)
        return funding_mod.premium_of(None if bid is None else Decimal(bid).scaleb(-pxd),
                                      None if ask is None else Decimal(ask).scaleb(-pxd), Decimal(oracle).scaleb(-pxd))

    def _settle_funding(self, time_ms: int) -> None:
        for asset, spec in enumerate(self._specs):
            state = self._funding[asset]
            oracle = self._reference(asset)
            if oracle is None:
                state.reset()
                continue
            premium = state.average()
            rate = funding_mod.hourly_rate(premium)
            self._funding_rows[asset].append({"coin": spec.name, "fundingRate": fmt_decimal(rate, 10),
                                              "premium": fmt_decimal(premium, 10), "time": time_ms})
            samples = state.samples
            state.reset()
            oracle_dec = Decimal(oracle).scaleb(-self._pxd[asset])
            for address in sorted(self._accounts):
                account = self._accounts[address]
                position = account.positions.get(asset)
                if position is None:
                    continue
                szi = Decimal(position.szi).scaleb(-spec.sz_decimals)
                paid = int((szi * oracle_dec * rate).scaleb(MONEY_DECIMALS).quantize(Decimal(1)))
                if account.settings[asset][0]:
                    account.cash -= paid
                else:
                    position.iso_margin -= paid
                position.cum_all += paid
                position.cum_open += paid
                position.cum_change += paid
                delta = {"type": "funding", "coin": spec.name, "usdc": fmt(-paid, MONEY_DECIMALS),
                         "szi": fmt(position.szi, spec.sz_decimals), "fundingRate": fmt_decimal(rate, 10),
                         "nSamples": samples}
                account.fundings.append({"delta": delta, "hash": tx_hash("funding", address, asset, time_ms),
                                         "time": time_ms})
                if self._pending is not None:
                    event = {key: delta[key] for key in ("coin", "usdc", "szi", "fundingRate", "nSamples")}
                    event["time"] = time_ms
                    self._pending["other"].append(EngineEvent("funding", address, event))

    def _liquidate(self) -> None:
        for account, assets in accounts_to_liquidate(self):
            lid = self._next_lid
            self._next_lid += 1
            fig = figures(account, self._specs, self._mark_or_zero)
            cross = any(account.settings[a][0] for a in assets)
            for order in list(account.open_orders.values()):
                if cross or order.asset in assets:
                    self._cancel_order(order, "liquidatedCanceled")
                    if self._pending is not None:
                        self._push("nonUserCancel", account.address, {"coin": order.coin, "oid": order.oid})
            touched: set[int] = set()
            for asset in assets:
                self._liquidate_position(account, asset, touched)
            if self._pending is not None:
                self._pending["other"].append(EngineEvent("liquidation", account.address, {
                    "lid": lid, "liquidator": LIQUIDATOR, "liquidated_user": account.address,
                    "liquidated_ntl_pos": fmt(fig.total_ntl, MONEY_DECIMALS),
                    "liquidated_account_value": fmt(fig.total_value, MONEY_DECIMALS)}))

    def _liquidate_position(self, account: Account, asset: int, touched: set) -> None:
        position = account.positions.get(asset)
        mark = self._mark(asset)
        if position is None or mark is None:
            return
        spec = self._specs[asset]
        is_buy = position.szi < 0
        order = Order(self._next_oid, account.address, asset, spec.name, is_buy,
                      market_price(mark, is_buy, self._pxd[asset]), abs(position.szi), self.now_ms, "Ioc", True,
                      None, self._pxd[asset], spec.sz_decimals)
        self._next_oid += 1
        order.is_market = True
        self._orders[order.oid] = order
        account.orders.append(order)
        info = {"liquidatedUser": account.address, "markPx": fmt(mark, self._pxd[asset]), "method": "market"}
        self._liquidation = info
        try:
            self._match(account, order, None, touched)
            if order.sz:
                self._liquidation = dict(info, method="backstop")
                vault = self._account(LIQUIDATOR)
                backstop = Order(self._next_oid, LIQUIDATOR, asset, spec.name, not is_buy, mark, order.sz,
                                 self.now_ms, "Gtc", False, None, self._pxd[asset], spec.sz_decimals)
                self._next_oid += 1
                self._orders[backstop.oid] = backstop
                vault.orders.append(backstop)
                self._trade(account, order, backstop, mark, order.sz, None, touched)
                sweeps, self._sweeps = self._sweeps, []
                for swept_account, swept_asset in sweeps:
                    self._sweep_reduce_only(swept_account, swept_asset)
                backstop.sz = 0
                self._status(backstop, "filled")
                order.sz = 0
        finally:
            self._liquidation = None
        self._status(order, "filled")
