"""Matching: the order path from validation to fills, plus trigger orders and tp/sl children."""

from __future__ import annotations

from .accounts import Account, Position, apply_trade, order_hash
from .constants import DIRTY, FILL_RETENTION, OPEN
from .fees import fee_of
from .orders import Order
from .rules import fmt
from .triggers import due_orders, market_price


class MatchingMixin:
    """Place, match and fill orders; mixed into Engine, whose state it uses."""

    # ------------------------------------------------------------------ matching

    def _match(self, account: Account, order: Order, builder, touched: set) -> tuple[int, int]:
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
                    self._retire(maker, "selfTradeCanceled", non_user=True)
                    continue
                if maker.reduce_only and not self._cap_reduce_only(maker):
                    level.popleft()
                    self._retire(maker, "reduceOnlyCanceled", non_user=True)
                    continue
                quantity = maker.sz if maker.sz < remaining else remaining
                self._trade(account, order, maker, px, quantity, builder, touched)
                remaining -= quantity
                filled_sz += quantity
                filled_ntl += px * quantity
                before = maker.sz
                maker.sz = before - quantity
                if maker.sz == 0:
                    level.popleft()
                    self._retire(maker, "filled")
                    self._arm_children(maker)
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
        if self._sweeps:
            sweeps, self._sweeps = self._sweeps, []
            for swept_account, swept_asset in sweeps:
                self._sweep_reduce_only(swept_account, swept_asset)
                touched.add(order.asset)
        return filled_sz, filled_ntl

    def _retire(self, order: Order, status: str, non_user: bool = False) -> None:
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
        self._status(order, status)
        if status != "filled" and order.children:
            for child in order.children:
                self._status(child, "canceled")
            order.children = None
        if non_user and self._pending is not None:
            self._push("nonUserCancel", order.user, {"coin": order.coin, "oid": order.oid})
        if self._pending is not None:
            self._pending["book"].add(order.asset)

    def _trade(self, taker_account: Account, taker: Order, maker: Order, px: int, quantity: int, builder,
               touched: set) -> None:
        maker_account = self._accounts[maker.user]
        asset = taker.asset
        notional = px * quantity
        tid = self._next_tid
        self._next_tid = tid + 1
        day = self._day
        taker_rates = taker_account.fee_rates if taker_account.fee_day == day else self._fee_rates(taker_account)
        maker_rates = maker_account.fee_rates if maker_account.fee_day == day else self._fee_rates(maker_account)
        taker_fee = fee_of(notional, taker_rates[0])
        maker_fee = fee_of(notional, maker_rates[1])
        builder_fee = 0
        if builder and builder.get("b"):
            # builder.f is in tenths of a basis point: fee = notional x f / 100 000
            builder_fee = max(0, notional * int(builder.get("f", 0)) // 100_000)
            if builder_fee:
                taker_account.cash -= builder_fee
                self._account(str(builder["b"])).cash += builder_fee
        delta = quantity if taker.is_buy else -quantity
        self._fill(taker_account, taker, delta, px, quantity, taker_fee, True, tid, taker.oid, builder_fee)
        self._fill(maker_account, maker, -delta, px, quantity, maker_fee, False, tid, taker.oid, 0)
        self._last[asset] = px
        self._marks[asset] = DIRTY
        time_ms = taker.ts if taker.ts > self.now_ms else self.now_ms
        buyer, seller = (taker_account.address, maker_account.address) if taker.is_buy else (
            maker_account.address, taker_account.address)
        row = (time_ms, taker.is_buy, px, quantity, tid, buyer, seller, taker.oid)
        self._recent[asset].append(row)
        self._candles[asset].add(time_ms, px, quantity)
        pending = self._pending
        if pending is not None:
            self._push("trades", taker.coin, row)
            pending["book"].add(asset)
        self._candle_dirty.add(asset)

    def _fill(self, account: Account, order: Order, delta: int, px: int, quantity: int, fee: int, crossed: bool,
              tid: int, taker_oid: int, builder_fee: int) -> None:
        asset = order.asset
        positions = account.positions
        position = positions.get(asset)
        if position is None:
            position = positions[asset] = Position()
        settings = account.settings.get(asset) or self._settings(account, asset)
        start = position.szi
        closed = apply_trade(account, position, delta, px, settings[0], settings[1])
        account.cash -= fee
        if position.szi == 0:
            del positions[asset]
        notional = px * quantity
        account.cum_vlm += notional
        daily = account.daily_vlm.get(self._day)
        if daily is None:
            daily = account.daily_vlm[self._day] = [0, 0]
        daily[0 if crossed else 1] += notional
        now = self.now_ms
        fill = (order.coin, px, quantity, order.is_buy, order.ts if order.ts > now else now, start, delta, closed,
                order.oid, crossed, fee + builder_fee, tid, order.cloid, order.pxd, order.szd, taker_oid, builder_fee,
                self._liquidation)
        fills = account.fills
        fills.append(fill)
        if len(fills) > 2 * FILL_RETENTION:
            del fills[:-FILL_RETENTION]
        if self._pending is not None:
            self._push("fills", account.address, fill)
        if account.reduce_only_open:
            self._sweeps.append((account, asset))
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

    def _sweep_reduce_only(self, account: Account, asset: int) -> None:
        position = account.positions.get(asset)
        szi = position.szi if position is not None else 0
        for order in list(account.open_orders.values()):
            if order.asset != asset or not order.reduce_only or order.trigger_px is not None or order.sz == 0:
                continue
            if szi == 0 or (szi > 0) == order.is_buy:
                self._books[asset].remove(order)
                self._retire(order, "reduceOnlyCanceled", non_user=True)
            elif order.sz > abs(szi):
                order.sz = abs(szi)

    # ------------------------------------------------------------------ triggers and tp/sl children

    def _arm(self, order: Order) -> None:
        self._accounts[order.user].open_orders[order.oid] = order
        if order.status != OPEN:
            self._status(order, OPEN)
        self._triggers[order.asset].append(order)
        self._armed += 1

    def _arm_children(self, parent: Order) -> None:
        if parent.children:
            children, parent.children = parent.children, None
            for child in children:
                self._arm(child)

    def _after_trading(self, touched: set) -> None:
        for _ in range(100):
            fired = False
            for asset in sorted(touched):
                if self._triggers[asset] and self._fire_due(asset, touched):
                    fired = True
            if not fired:
                return

    def _fire_due(self, asset: int, touched: set) -> bool:
        mark = self._mark(asset)
        if mark is None:
            return False
        due = due_orders(self._triggers[asset], mark)
        for order in due:
            self._fire(order, mark, touched)
        return bool(due)

    def _fire(self, order: Order, mark: int, touched: set) -> None:
        self._triggers[order.asset].remove(order)
        self._armed -= 1
        account = self._accounts[order.user]
        account.open_orders.pop(order.oid, None)
        self._status(order, "triggered")
        if order.is_market:
            order.px = market_price(mark, order.is_buy, order.pxd)
            order.tif = "Ioc"
        else:
            order.tif = "Gtc"
        self._submit(account, order, None, touched, check_margin=not order.reduce_only)


def trade_wire(coin: str, pxd: int, szd: int, row: tuple) -> dict:
    """Return the WS / ``recentTrades`` trade object of a stored trade row."""
    time_ms, is_buy, px, quantity, tid, buyer, seller, taker_oid = row
    return {"coin": coin, "side": "B" if is_buy else "A", "px": fmt(px, pxd), "sz": fmt(quantity, szd),
            "time": time_ms, "hash": order_hash(taker_oid), "tid": tid, "users": [buyer, seller]}
