"""Book and matching: an order from validation to the book, fills, reduce-only upkeep and trigger orders.

Everything here runs inside one engine action; events go to the `EventBus`
and all state lives in the shared `EngineState`. The containers of the state
are aliased as attributes because this is the per-order hot path.
"""

from __future__ import annotations

from .accounting import Accounting
from .accounts import Account, Position, apply_trade
from .constants import DIRTY, FILL_RETENTION, OPEN
from .events import EventBus
from .fees import fee_of
from .margin import free_collateral
from .orders import Order
from .rules import dec, fmt
from .state import EngineState
from .triggers import due_orders, market_price
from .types import Filled, OrderStatus, Rejected, Resting
from .views import CanceledOrder


class Matching:
    """Match orders against the books, settle fills, and arm and fire trigger orders."""

    def __init__(self, state: EngineState, events: EventBus, accounting: Accounting) -> None:
        self.state = state
        self.events = events
        self.accounting = accounting
        self._books = state.books
        self._marks = state.marks
        self._accounts = state.accounts
        self._orders = state.orders
        self._triggers = state.triggers
        self._recent = state.recent
        self._candles = state.candles
        self._last = state.last

    def match(self, account: Account, order: Order, touched: set) -> tuple[int, int]:
        """Fill ``order`` against the opposite side up to its limit; return ``(filled size, filled notional)``."""
        book = self._books[order.asset]
        is_buy = order.is_buy
        if is_buy:
            keys, side, limit = book.ask_keys, book.asks, -order.px
        else:
            keys, side, limit = book.bid_keys, book.bids, order.px
        remaining = order.sz
        filled_sz = 0
        filled_ntl = 0
        address = account.address
        while remaining and keys and keys[-1] >= limit:
            key = keys[-1]
            px = -key if is_buy else key
            level = side[px]
            while level and remaining:
                maker = level[0]
                if maker.user == address:
                    level.popleft()
                    self.retire(maker, "selfTradeCanceled", non_user=True)
                    continue
                if maker.reduce_only and not self._cap_reduce_only(maker):
                    level.popleft()
                    self.retire(maker, "reduceOnlyCanceled", non_user=True)
                    continue
                quantity = maker.sz if maker.sz < remaining else remaining
                self.trade(account, order, maker, px, quantity, touched)
                remaining -= quantity
                filled_sz += quantity
                filled_ntl += px * quantity
                before = maker.sz
                maker.sz = before - quantity
                if maker.sz == 0:
                    level.popleft()
                    self.retire(maker, "filled")
                    self.arm_children(maker)
                elif maker.reserved:
                    maker_account = self._accounts[maker.user]
                    reserved = maker.reserved * maker.sz // before
                    maker_account.reserved -= maker.reserved - reserved
                    maker.reserved = reserved
            if not level:
                del side[px]
                keys.pop()
                self._marks[order.asset] = DIRTY
        order.sz = remaining
        if filled_sz:
            self._marks[order.asset] = DIRTY
        if self.state.sweeps:
            sweeps, self.state.sweeps = self.state.sweeps, []
            for swept_account, swept_asset in sweeps:
                self.sweep_reduce_only(swept_account, swept_asset)
                touched.add(order.asset)
        return filled_sz, filled_ntl

    def retire(self, order: Order, status: str, non_user: bool = False) -> None:
        """Finish an order that has left the book (caller already removed it from its level)."""
        account = self._accounts[order.user]
        account.open_orders.pop(order.oid, None)
        book = self._books[order.asset]
        if order.is_buy:
            if not book.bid_keys or order.px > book.bid_keys[-1]:
                self._marks[order.asset] = DIRTY
        elif not book.ask_keys or order.px < -book.ask_keys[-1]:
            self._marks[order.asset] = DIRTY
        if order.reserved:
            account.reserved -= order.reserved
            order.reserved = 0
        if order.reduce_only and order.trigger_px is None:
            account.reduce_only_open -= 1
        self.events.status(order, status)
        if status != "filled" and order.children:
            for child in order.children:
                self.events.status(child, "canceled")
            order.children = None
        if non_user and self.events.pending is not None:
            self.events.push("nonUserCancel", order.user, CanceledOrder(order.coin, order.oid))
        if self.events.pending is not None:
            self.events.pending["book"].add(order.asset)

    def trade(self, taker_account: Account, taker: Order, maker: Order, px: int, quantity: int, touched: set) -> None:
        """Settle one trade between a taker and a resting maker: fees, builder fees, fills, prints."""
        maker_account = self._accounts[maker.user]
        asset = taker.asset
        notional = px * quantity
        tid = self.state.next_tid
        self.state.next_tid = tid + 1
        day = self.state.day
        fee_rates = self.accounting.fee_rates
        taker_rates = taker_account.fee_rates if taker_account.fee_day == day else fee_rates(taker_account)
        maker_rates = maker_account.fee_rates if maker_account.fee_day == day else fee_rates(maker_account)
        taker_fee = fee_of(notional, taker_rates[0])
        maker_fee = fee_of(notional, maker_rates[1])
        taker_builder_fee = 0 if taker.builder is None else self._pay_builder(taker_account, taker.builder, notional)
        maker_builder_fee = 0 if maker.builder is None else self._pay_builder(maker_account, maker.builder, notional)
        delta = quantity if taker.is_buy else -quantity
        self._fill(taker_account, taker, delta, px, quantity, taker_fee, True, tid, taker.oid, taker_builder_fee)
        self._fill(maker_account, maker, -delta, px, quantity, maker_fee, False, tid, taker.oid, maker_builder_fee)
        self._last[asset] = px
        self._marks[asset] = DIRTY
        time_ms = taker.ts if taker.ts > self.state.now_ms else self.state.now_ms
        buyer, seller = (taker_account.address, maker_account.address) if taker.is_buy else (
            maker_account.address, taker_account.address)
        row = (time_ms, taker.is_buy, px, quantity, tid, buyer, seller, taker.oid)
        self._recent[asset].append(row)
        self._candles[asset].add(time_ms, px, quantity)
        pending = self.events.pending
        if pending is not None:
            self.events.push("trades", taker.coin, row)
            pending["book"].add(asset)
        self.state.candle_dirty.add(asset)

    def _pay_builder(self, account: Account, builder, notional: int) -> int:
        """Move the builder fee of a fill (tenths of a basis point: notional x fee / 100 000, truncated)."""
        fee = notional * builder.fee // 100_000
        if fee:
            account.cash -= fee
            self.accounting.account(builder.address).cash += fee
        return fee

    def _fill(self, account: Account, order: Order, delta: int, px: int, quantity: int, fee: int, crossed: bool,
              tid: int, taker_oid: int, builder_fee: int) -> None:
        asset = order.asset
        positions = account.positions
        position = positions.get(asset)
        if position is None:
            position = positions[asset] = Position()
        settings = account.settings.get(asset) or self.accounting.settings(account, asset)
        start = position.szi
        closed = apply_trade(account, position, delta, px, settings[0], settings[1])
        account.cash -= fee
        if position.szi == 0:
            del positions[asset]
        notional = px * quantity
        account.cum_vlm += notional
        daily = account.daily_vlm.get(self.state.day)
        if daily is None:
            daily = account.daily_vlm[self.state.day] = [0, 0]
        daily[0 if crossed else 1] += notional
        now = self.state.now_ms
        fill = (order.coin, px, quantity, order.is_buy, order.ts if order.ts > now else now, start, delta, closed,
                order.oid, crossed, fee + builder_fee, tid, order.cloid, order.pxd, order.szd, taker_oid, builder_fee,
                self.state.liquidation)
        fills = account.fills
        fills.append(fill)
        if len(fills) > 2 * FILL_RETENTION:
            del fills[:-FILL_RETENTION]
        if self.events.pending is not None:
            self.events.push("fills", account.address, fill)
        if account.reduce_only_open:
            self.state.sweeps.append((account, asset))
        return fill

    def _cap_reduce_only(self, order: Order) -> bool:
        """Shrink a resting reduce-only order to the position it reduces; False when it reduces nothing."""
        position = self._accounts[order.user].positions.get(order.asset)
        szi = position.szi if position is not None else 0
        if szi == 0 or (szi > 0) == order.is_buy:
            return False
        if order.sz > abs(szi):
            order.sz = abs(szi)
        return True

    def sweep_reduce_only(self, account: Account, asset: int) -> None:
        position = account.positions.get(asset)
        szi = position.szi if position is not None else 0
        for order in list(account.open_orders.values()):
            if order.asset != asset or not order.reduce_only or order.trigger_px is not None or order.sz == 0:
                continue
            if szi == 0 or (szi > 0) == order.is_buy:
                self._books[asset].remove(order)
                self.retire(order, "reduceOnlyCanceled", non_user=True)
            elif order.sz > abs(szi):
                order.sz = abs(szi)

    def arm(self, order: Order) -> None:
        self._accounts[order.user].open_orders[order.oid] = order
        if order.status != OPEN:
            self.events.status(order, OPEN)
        self._triggers[order.asset].append(order)
        self.state.armed += 1

    def arm_children(self, parent: Order) -> None:
        if parent.children:
            children, parent.children = parent.children, None
            for child in children:
                self.arm(child)

    def after_trading(self, touched: set) -> None:
        for _ in range(100):
            fired = False
            for asset in sorted(touched):
                if self._triggers[asset] and self._fire_due(asset, touched):
                    fired = True
            if not fired:
                return

    def _fire_due(self, asset: int, touched: set) -> bool:
        mark = self.state.mark(asset)
        if mark is None:
            return False
        due = due_orders(self._triggers[asset], mark)
        for order in due:
            self._fire(order, mark, touched)
        return bool(due)

    def _fire(self, order: Order, mark: int, touched: set) -> None:
        self._triggers[order.asset].remove(order)
        self.state.armed -= 1
        account = self._accounts[order.user]
        account.open_orders.pop(order.oid, None)
        self.events.status(order, "triggered")
        if order.is_market:
            order.px = market_price(mark, order.is_buy, order.pxd)
            order.tif = "Ioc"
        else:
            order.tif = "Gtc"
        self.submit(account, order, touched, check_margin=not order.reduce_only)

    def reject(self, order: Order, status: str, message: str) -> Rejected:
        """Give the order a rejected status and return the refusal."""
        self.events.status(order, status)
        return Rejected(message)

    def submit(self, account: Account, order: Order, touched: set, check_margin: bool) -> OrderStatus:
        """Check reduce-only, post-only and margin, match what crosses and rest the remainder; return its status."""
        asset = order.asset
        position = account.positions.get(asset)
        szi = position.szi if position is not None else 0
        if order.reduce_only:
            if szi == 0 or (szi > 0) == order.is_buy:
                return self.reject(order, "reduceOnlyRejected",
                                    f"Reduce only order would increase position. asset={asset}")
            if order.sz > abs(szi):
                order.sz = order.orig_sz = abs(szi)
        book = self._books[asset]
        if order.tif == "Alo":
            best = book.best_ask() if order.is_buy else book.best_bid()
            if best is not None and (order.px >= best if order.is_buy else order.px <= best):
                bid, ask = book.best_bid(), book.best_ask()
                bbo = f"{'None' if bid is None else fmt(bid, order.pxd)}@{'None' if ask is None else fmt(ask, order.pxd)}"
                return self.reject(order, "badAloPxRejected",
                                    f"Post only order would have immediately matched, bbo was {bbo}. asset={asset}")
        settings = account.settings.get(asset) or self.accounting.settings(account, asset)
        if check_margin and not order.reduce_only:
            opening = order.sz if szi == 0 or (szi > 0) == order.is_buy else max(0, order.sz - abs(szi))
            if opening:
                required = order.px * opening // settings[1]
                marks = self._marks
                if account.positions:
                    for held in account.positions:
                        if marks[held] == DIRTY:
                            self.state.mark(held)
                    free = free_collateral(account, marks)
                else:
                    free = account.cash - account.reserved
                if free < required:
                    return self.reject(order, "perpMarginRejected",
                                        f"Insufficient margin to place order. asset={asset}")
        if order.is_buy:
            keys = book.ask_keys
            crosses = keys and keys[-1] >= -order.px
        else:
            keys = book.bid_keys
            crosses = keys and keys[-1] >= order.px
        if crosses:
            filled_sz, filled_ntl = self.match(account, order, touched)
        else:
            filled_sz = filled_ntl = 0
        if order.sz == 0:
            self.events.status(order, "filled")
            return self._filled_status(order, filled_sz, filled_ntl)
        if order.tif == "Ioc":
            if filled_sz == 0:
                if order.trigger_px is not None or order.is_market:
                    return self.reject(order, "marketOrderNoLiquidityRejected",
                                        "No liquidity available for market order.")
                return self.reject(order, "iocCancelRejected",
                                    f"Order could not immediately match against any resting orders. asset={asset}")
            self.events.status(order, "filled")
            self.arm_children(order)
            return self._filled_status(order, filled_sz, filled_ntl)
        if not order.reduce_only:
            order.reserved = order.px * order.sz // settings[1]
            account.reserved += order.reserved
        else:
            account.reduce_only_open += 1
        account.open_orders[order.oid] = order
        book.add(order)
        if order.px == (book.bid_keys[-1] if order.is_buy else -book.ask_keys[-1]):
            self._marks[asset] = DIRTY
        if self.state.armed:
            touched.add(asset)
        if self.events.pending is not None:
            self.events.pending["book"].add(asset)
        if order.status != OPEN or self.events.pending is not None:
            self.events.status(order, OPEN)
        return Resting(order.oid, order.cloid)

    def _filled_status(self, order: Order, filled_sz: int, filled_ntl: int) -> Filled:
        if filled_ntl % filled_sz == 0:
            average_px = dec(filled_ntl // filled_sz, order.pxd)
        else:
            # ntl has pxd + szd = MONEY_DECIMALS decimals, so ntl * 100 / sz is the average in units of
            # 10**-(pxd + 2); round half to even like Decimal.quantize did
            average, remainder = divmod(filled_ntl * 100, filled_sz)
            if 2 * remainder > filled_sz or (2 * remainder == filled_sz and average & 1):
                average += 1
            average_px = dec(average, order.pxd + 2)
        return Filled(order.oid, dec(filled_sz, order.szd), average_px, order.cloid)

    def cancel_order(self, order: Order, status: str = "canceled") -> bool:
        account = self._accounts[order.user]
        if order.oid in account.open_orders:
            if order.trigger_px is not None and order in self._triggers[order.asset]:
                self._triggers[order.asset].remove(order)
                self.state.armed -= 1
                account.open_orders.pop(order.oid)
                self.events.status(order, status)
                return True
            self._books[order.asset].remove(order)
            self.retire(order, status)
            return True
        parent = order.parent
        if parent is not None and parent.children and order in parent.children:
            parent.children.remove(order)
            self.events.status(order, status)
            return True
        return False


class MatchingDriver:
    """Base of the collaborators that drive `Matching`: `OrderEntry` (user actions) and `TimedEvents` (what time drives).

    Both act on the same state through the same bus, accounting and matching, wired once by the `Engine`.
    """

    def __init__(self, state: EngineState, events: EventBus, accounting: Accounting, matching: Matching) -> None:
        self.state = state
        self.events = events
        self.accounting = accounting
        self.matching = matching
