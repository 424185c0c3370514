"""The Engine facade: a Hyperliquid-compatible exchange without HTTP.

Design notes
------------
* Prices and sizes are integers per asset (``10**-(6-szDecimals)`` and ``10**-szDecimals``); money is
  micro-USDC. Wire strings are produced only when a query or a listener needs them.
* Mark price = median of (best bid, best ask, last trade), each missing input replaced by the oracle;
  without an oracle the median of what exists (two values: their midpoint). With nothing at all the
  oracle is the only source, and a coin with no oracle and no market has no mark.
* Liquidations, triggers on oracle moves, scheduled cancels, funding and ctx events run in ``advance()``;
  triggers are also checked right after every action that traded.
* Events: trades, fills, orderUpdates, nonUserCancel and book go out at the end of each action; candle
  events (one per interval for each coin that traded) go out on the next ``advance()``, the way the venue
  pushes candles once per block rather than once per trade. Trades, fills and order updates carry
  immutable snapshots and format their wire payloads on first read, so the matching loop pays for
  formatting only when a listener actually reads the payload.
* The engine is synchronous: a LatencyModel only shifts the timestamps stamped on orders and fills.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Callable

from . import candles as candle_mod
from . import funding as funding_mod
from .accounts import Account, fill_wire, tx_hash
from .agents import AgentRegistry
from .book import Book
from .constants import (
    BAD_PRICE, BAD_SIZE, BAD_TICK, DAY_MS, DEFAULT_LEVERAGE, DIRTY, FIRST_OID, MAX_SCHEDULED_CANCELS_PER_DAY, OPEN,
    ORACLE_BAND, ORDER_RETENTION, PARSE_CACHE_LIMIT, RECENT_TRADES, SCHEDULE_MIN_DELAY_MS, SPOT_ASSET_OFFSET, TIFS,
)
from .fees import HyperliquidFees
from .margin import available, figures, free_collateral, withdrawable
from .matching import MatchingMixin, trade_wire
from .models import PriceTimeQueue, ZeroLatency
from .orders import Order, update_wire
from .queries import QueryMixin
from .rules import MIN_NOTIONAL, MONEY_DECIMALS, fmt, from_number, parse_decimal, price_on_tick, scale
from .timed import TimeMixin
from .types import AssetSpec, EngineError, EngineEvent, OrderRequest

_log = logging.getLogger(__name__)
_BAND_NUMERATOR, _BAND_DENOMINATOR = ORACLE_BAND


class Engine(MatchingMixin, TimeMixin, QueryMixin):
    """Match orders and keep accounts, margin, funding and candles like the Hyperliquid venue.

    Parameters
    ----------
    assets
        Perp universe in asset-id order.
    now_ms
        Initial engine time; 0 means "not started" (the first ``advance`` only sets the clock).
    fee_model
        FeeModel; defaults to the documented tier-0 schedule (taker 0.045%, maker 0.015%).
    latency_model
        LatencyModel; defaults to zero latency.
    queue_model
        QueueModel; defaults to strict price-time (FIFO) priority.
    """

    def __init__(self, assets: list[AssetSpec], *, now_ms: int = 0, fee_model=None, latency_model=None,
                 queue_model=None) -> None:
        if not assets:
            raise ValueError("assets was empty; the engine needs at least one perp")
        self.lock = threading.RLock()
        self.now_ms = now_ms
        self._day = now_ms // DAY_MS
        self.fee_model = fee_model if fee_model is not None else HyperliquidFees()
        self.latency_model = latency_model if latency_model is not None else ZeroLatency()
        self._zero_latency = isinstance(self.latency_model, ZeroLatency)
        self.queue_model = queue_model if queue_model is not None else PriceTimeQueue()
        self._specs = list(assets)
        self._asset_of = {spec.name: index for index, spec in enumerate(self._specs)}
        self._pxd = [6 - spec.sz_decimals for spec in self._specs]
        self._n_assets = len(self._specs)
        self._books = [Book(self.queue_model) for _ in self._specs]
        self._oracle: list[int | None] = [None] * len(self._specs)
        self._marks: list[int | None] = [DIRTY] * len(self._specs)
        self._px_cache: list[dict[str, int]] = [{} for _ in self._specs]
        self._sz_cache: list[dict[str, int]] = [{} for _ in self._specs]
        self._last: list[int | None] = [None] * len(self._specs)
        self._triggers: list[list[Order]] = [[] for _ in self._specs]
        self._armed = 0
        self._recent: list[deque] = [deque(maxlen=RECENT_TRADES) for _ in self._specs]
        self._candles = [candle_mod.CandleSeries() for _ in self._specs]
        self._funding = [funding_mod.FundingState() for _ in self._specs]
        self._funding_rows: list[list[dict]] = [[] for _ in self._specs]
        self._accounts: dict[str, Account] = {}
        self._orders: dict[int, Order] = {}
        self._agents = AgentRegistry()
        self._next_oid = FIRST_OID
        self._next_tid = 1
        self._next_lid = 1
        self._liquidation: dict | None = None
        self._sweeps: list[tuple[Account, int]] = []
        self._candle_dirty: set[int] = set()
        self._listeners: list[Callable[[EngineEvent], None]] = []
        self._pending: dict | None = None
        self._spare_pending: dict | None = None
        self._book_events = [EngineEvent("book", spec.name) for spec in self._specs]

    # ------------------------------------------------------------------ persistence

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["lock"]
        state["_listeners"] = []
        state["_pending"] = None
        state["_spare_pending"] = None
        state["_px_cache"] = [{} for _ in self._specs]
        state["_sz_cache"] = [{} for _ in self._specs]
        del state["_book_events"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_spare_pending", None)
        self.lock = threading.RLock()
        self._book_events = [EngineEvent("book", spec.name) for spec in self._specs]

    def add_listener(self, fn: Callable[[EngineEvent], None]) -> None:
        """Call ``fn(event)`` synchronously for every engine event (under the caller's lock)."""
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[EngineEvent], None]) -> None:
        """Stop calling ``fn``; a listener that is not registered is ignored (stopping twice is harmless)."""
        for index, listener in enumerate(self._listeners):
            if listener == fn:
                del self._listeners[index]
                return

    # ------------------------------------------------------------------ accounts and agents

    def _account(self, user: str) -> Account:
        address = user.lower()
        account = self._accounts.get(address)
        if account is None:
            account = self._accounts[address] = Account(address)
        return account

    def fund(self, user: str, usdc) -> None:
        """Deposit ``usdc`` (str/Decimal/int/float) into the user's perp account and log a deposit."""
        amount = from_number(usdc, MONEY_DECIMALS)
        if amount <= 0:
            raise EngineError(f"Deposit amount must be positive, received {usdc}")
        account = self._account(user)
        account.cash += amount
        self._ledger(account, {"type": "deposit", "usdc": fmt(amount, MONEY_DECIMALS)})
        self._flush()

    def is_user(self, address: str) -> bool:
        """Tell whether the address has an account (was funded or received a transfer)."""
        return address.lower() in self._accounts

    def approve_agent(self, user: str, agent: str, name: str | None, valid_until_ms: int | None) -> None:
        """Let ``agent`` trade for ``user``; one unnamed agent (replaced on re-approval), up to 3 named."""
        if not self.is_user(user):
            raise EngineError(f"Must deposit before performing actions. User: {user.lower()}")
        self._agents.approve(user.lower(), agent.lower(), name, valid_until_ms)

    def resolve_signer(self, signer: str) -> str | None:
        """Return the acting user of a signer: an agent's master, a known user itself, else None."""
        address = signer.lower()
        master = self._agents.master(address, self.now_ms)
        if master is not None:
            return master
        return address if address in self._accounts else None

    def extra_agents(self, user: str) -> list[dict]:
        """Return the user's named agents as in the ``extraAgents`` response."""
        return self._agents.extra_agents(user.lower())

    # ------------------------------------------------------------------ prices

    def set_oracle(self, coin: str, px: float) -> None:
        """Set the oracle price of a perp (used for funding, the 80% band and mark fallbacks)."""
        asset = self._asset_index(coin)
        if not px > 0:
            raise EngineError(f"Oracle price must be positive, received {px} for {coin}")
        self._oracle[asset] = from_number(px, self._pxd[asset])
        self._marks[asset] = DIRTY

    def _asset_index(self, coin: str) -> int:
        asset = self._asset_of.get(coin)
        if asset is None:
            raise EngineError(f"Unknown coin {coin}")
        return asset

    def _mark(self, asset: int) -> int | None:
        cached = self._marks[asset]
        if cached != DIRTY:
            return cached
        mark = self._marks[asset] = self._compute_mark(asset)
        return mark

    def _compute_mark(self, asset: int) -> int | None:
        book = self._books[asset]
        oracle = self._oracle[asset]
        bid = book.bid_keys[-1] if book.bid_keys else oracle
        ask = -book.ask_keys[-1] if book.ask_keys else oracle
        last = self._last[asset]
        if last is None:
            last = oracle
        if bid is not None and ask is not None and last is not None:
            low, high = (bid, ask) if bid < ask else (ask, bid)
            return low if last < low else high if last > high else last
        present = [value for value in (bid, ask, last) if value is not None]
        if len(present) == 2:
            return (present[0] + present[1]) // 2
        return present[0] if present else None

    def _mark_or_zero(self, asset: int) -> int:
        mark = self._mark(asset)
        return 0 if mark is None else mark

    def _reference(self, asset: int) -> int | None:
        oracle = self._oracle[asset]
        return oracle if oracle is not None else self._mark(asset)

    # ------------------------------------------------------------------ events

    def _begin(self) -> None:
        if self._listeners and self._pending is None:
            pending = self._spare_pending
            if pending is None:
                pending = {"trades": {}, "fills": {}, "orderUpdates": {}, "nonUserCancel": {}, "other": [],
                           "book": set(), "candle": set()}
            else:
                self._spare_pending = None
            self._pending = pending

    def _push(self, channel: str, key: str, item) -> None:
        pending = self._pending
        if pending is not None:
            items = pending[channel].get(key)
            if items is None:
                pending[channel][key] = [item]
            else:
                items.append(item)

    def _status(self, order: Order, status: str) -> None:
        order.status = status
        now = order.status_ts = self.now_ms
        pending = self._pending
        if pending is not None:
            snapshot = (order, order.px, order.sz, order.orig_sz, order.ts, status, now)
            updates = pending["orderUpdates"]
            items = updates.get(order.user)
            if items is None:
                updates[order.user] = [snapshot]
            else:
                items.append(snapshot)

    def _flush(self) -> None:
        """Hand the events of the finished action to the listeners; payloads are built only when read."""
        pending = self._pending
        self._pending = None
        if pending is None or not self._listeners:
            return
        events: list[EngineEvent] = []
        append = events.append
        for coin, rows in pending["trades"].items():
            asset = self._asset_of[coin]
            append(EngineEvent("trades", coin, (coin, self._pxd[asset], self._specs[asset].sz_decimals, rows),
                               _trades_wire))
        for user, fills in pending["fills"].items():
            append(EngineEvent("fills", user, fills, _fills_wire))
        for user, snapshots in pending["orderUpdates"].items():
            append(EngineEvent("orderUpdates", user, snapshots, _updates_wire))
        cancels = pending["nonUserCancel"]
        if cancels:
            for user, items in cancels.items():
                append(EngineEvent("nonUserCancel", user, items))
        if pending["other"]:
            events.extend(pending["other"])
        books = pending["book"]
        if books:
            book_events = self._book_events  # payload-free, so one shared event per coin
            for asset in sorted(books) if len(books) > 1 else books:
                append(book_events[asset])
        if pending["candle"]:
            self._candle_events(pending["candle"], append)
        for container in pending.values():
            if container:
                container.clear()
        self._spare_pending = pending  # reused by the next action: the events hold the item lists, not these
        listeners = tuple(self._listeners)
        for event in events:
            for listener in listeners:
                try:
                    listener(event)
                except Exception:
                    _log.exception("engine listener %r failed on a %s event for %s", listener, event.channel, event.key)

    def _candle_events(self, assets: set[int], append: Callable[[EngineEvent], None]) -> None:
        for asset in sorted(assets):
            series = self._candles[asset]
            if not series.bars:
                continue
            coin = self._specs[asset].name
            pxd, szd = self._pxd[asset], self._specs[asset].sz_decimals
            for interval in candle_mod.INTERVALS:
                opened, bar = series.latest(interval)
                append(EngineEvent("candle", coin, candle_mod.candle_wire(coin, interval, opened, bar, pxd, szd)))

    def _ledger(self, account: Account, delta: dict) -> None:
        entry = {"time": self.now_ms, "hash": tx_hash("ledger", account.address, len(account.ledger), self.now_ms),
                 "delta": delta}
        account.ledger.append(entry)
        self._begin()
        if self._pending is not None:
            self._pending["other"].append(EngineEvent("ledger", account.address, entry))

    # ------------------------------------------------------------------ order placement

    def _settings(self, account: Account, asset: int) -> list:
        settings = account.settings.get(asset)
        if settings is None:
            spec = self._specs[asset]
            settings = account.settings[asset] = [not spec.only_isolated, min(DEFAULT_LEVERAGE, spec.max_leverage)]
        return settings

    def _fee_rates(self, account: Account) -> tuple[int, int]:
        day = self._day
        if account.fee_day != day:
            volume = sum(sum(v) for d, v in account.daily_vlm.items() if day - 14 <= d < day)
            account.fee_rates = self.fee_model.rates(account.address, volume // 10**MONEY_DECIMALS)
            account.fee_day = day
        return account.fee_rates

    def place_orders(self, user: str, orders: list[OrderRequest], grouping="na", builder: dict | None = None) -> list:
        """Place a batch of orders for an authenticated user; return the wire ``data.statuses`` list."""
        account = self._accounts.get(user) or self._account(user)
        count = len(orders)
        account.n_requests += count
        if not count:
            return [{"error": "Order batch was empty."}]
        if self._listeners:
            self._begin()
        touched: set[int] = set()
        if count == 1 and grouping == "na":
            statuses = [self._place(account, orders[0], builder, touched)]
        elif grouping == "normalTpsl":
            statuses = self._place_tpsl_group(account, orders, builder, touched)
        elif count == 1:
            statuses = [self._place(account, orders[0], builder, touched, grouping == "positionTpsl")]
        else:
            position_tpsl = grouping == "positionTpsl"
            place = self._place
            statuses = [place(account, request, builder, touched, position_tpsl) for request in orders]
        if touched and self._armed:
            self._after_trading(touched)
        if self._pending is not None:
            self._flush()
        return statuses

    def _place_tpsl_group(self, account: Account, orders: list, builder, touched: set) -> list:
        if len(orders) < 2 or any("trigger" not in r.order_type for r in orders[1:]):
            return [{"error": "Unexpected number of trigger orders"}]
        known = len(account.orders)
        parent_status = self._place(account, orders[0], builder, touched)
        parent = account.orders[known] if len(account.orders) > known else None
        children = []
        for request in orders[1:]:
            child = self._new_order(account, request)
            if isinstance(child, dict):
                children.append(child)
                continue
            error = self._validate_trigger(child, request)
            if error is not None:
                children.append(self._reject(child, *error))
                continue
            if parent is None or "error" in parent_status:
                message = parent_status.get("error", "Order has invalid price.")
                children.append(self._reject(child, "rejected", message))
                continue
            child.parent = parent
            if parent.status == OPEN:
                parent.children = (parent.children or []) + [child]
                children.append("waitingForFill")
            else:
                self._arm(child)
                children.append("waitingForTrigger")
        return [parent_status, *children]

    def _new_order(self, account: Account, request: OrderRequest):
        asset = request.asset
        if asset.__class__ is not int or not 0 <= asset < self._n_assets:
            if isinstance(asset, int) and asset >= SPOT_ASSET_OFFSET:
                return {"error": f"Spot trading is not supported by this venue. asset={asset}"}
            return {"error": f"Unknown asset. asset={asset}"}
        spec = self._specs[asset]
        pxd = self._pxd[asset]
        szd = spec.sz_decimals
        px = self._px_cache[asset].get(request.limit_px) or self._parse_price(asset, request.limit_px)
        sz = self._sz_cache[asset].get(request.sz) or self._parse_size(asset, request.sz)
        oid = self._next_oid
        self._next_oid = oid + 1
        ts = self.now_ms if self._zero_latency else self.now_ms + self.latency_model.order_latency_ms(account.address)
        order_type = request.order_type
        limit = order_type.get("limit")
        tif = limit.get("tif") if limit is not None else None
        order = Order(oid, account.address, asset, spec.name, request.is_buy is True,
                      px if px > 0 else _truncate(parse_decimal(request.limit_px), pxd),
                      sz if sz > 0 else _truncate(parse_decimal(request.sz), szd),
                      ts, tif, request.reduce_only is True, request.cloid, pxd, szd)
        self._orders[oid] = order
        account.orders.append(order)
        if len(account.orders) > 2 * ORDER_RETENTION:
            self._forget_old_orders(account)
        cloid = request.cloid
        if cloid is not None:
            account.cloids[cloid.lower()] = order
        if px > 0 and sz > 0 and tif in TIFS:
            return order
        if px == BAD_PRICE:
            return self._reject(order, "rejected", "Order has invalid price.")
        if sz <= 0:
            return self._reject(order, "rejected", "Order has invalid size.")
        if px == BAD_TICK:
            return self._reject(order, "tickRejected", f"Price must be divisible by tick size. asset={asset}")
        if limit is not None:
            if tif not in TIFS:
                return self._reject(order, "rejected", f"Invalid TIF. asset={asset}")
        elif "trigger" not in order_type:
            return self._reject(order, "rejected", f"Invalid order type. asset={asset}")
        return order

    def _forget_old_orders(self, account: Account) -> None:
        """Drop finished orders beyond the retention window so a long-running venue keeps bounded memory."""
        cut = len(account.orders) - ORDER_RETENTION
        kept = []
        for order in account.orders[:cut]:
            if order.oid in account.open_orders or order.status == OPEN:
                kept.append(order)
                continue
            self._orders.pop(order.oid, None)
            if order.cloid is not None and account.cloids.get(order.cloid.lower()) is order:
                del account.cloids[order.cloid.lower()]
        account.orders[:cut] = kept

    def _parse_price(self, asset: int, text: str) -> int:
        parsed = parse_decimal(text)
        if parsed is None or parsed[0] == 0:
            px = BAD_PRICE
        else:
            px = scale(parsed, self._pxd[asset])
            if px is None or not price_on_tick(px, self._pxd[asset]):
                px = BAD_TICK
        cache = self._px_cache[asset]
        if isinstance(text, str) and len(cache) < PARSE_CACHE_LIMIT:
            cache[text] = px
        return px

    def _parse_size(self, asset: int, text: str) -> int:
        parsed = parse_decimal(text)
        sz = scale(parsed, self._specs[asset].sz_decimals) if parsed is not None else None
        sz = BAD_SIZE if not sz else sz
        cache = self._sz_cache[asset]
        if isinstance(text, str) and len(cache) < PARSE_CACHE_LIMIT:
            cache[text] = sz
        return sz

    def _validate_trigger(self, order: Order, request: OrderRequest) -> tuple[str, str] | None:
        trigger = request.order_type.get("trigger")
        if not isinstance(trigger, dict):
            return "rejected", "Invalid TP/SL price."
        parsed = parse_decimal(str(trigger.get("triggerPx", "")))
        trigger_px = scale(parsed, order.pxd) if parsed is not None else None
        if not trigger_px or not price_on_tick(trigger_px, order.pxd) or trigger.get("tpsl") not in ("tp", "sl"):
            return "badTriggerPxRejected", "Invalid TP/SL price."
        order.trigger_px = trigger_px
        order.is_market = bool(trigger.get("isMarket"))
        order.tpsl = trigger["tpsl"]
        order.tif = None
        return None

    def _reject(self, order: Order, status: str, message: str) -> dict:
        self._status(order, status)
        return {"error": message}

    def _place(self, account: Account, request: OrderRequest, builder, touched: set, position_tpsl: bool = False):
        order = self._new_order(account, request)
        if order.__class__ is dict:
            return order
        asset = order.asset
        if order.tif is None:
            error = self._validate_trigger(order, request)
            if error is not None:
                return self._reject(order, *error)
            order.position_tpsl = position_tpsl
        reference = self._oracle[asset]
        if reference is None:
            reference = self._mark(asset)
        px = order.px
        if reference is not None and abs(px - reference) * _BAND_DENOMINATOR > reference * _BAND_NUMERATOR:
            return self._reject(order, "oracleRejected",
                                "Order price cannot be more than 80% away from the reference price")
        if px * order.sz < MIN_NOTIONAL and not self._closes_position(account, order):
            return self._reject(order, "minTradeNtlRejected", f"Order must have minimum value of $10. asset={asset}")
        if order.trigger_px is not None:
            position = account.positions.get(asset)
            szi = position.szi if position is not None else 0
            if order.reduce_only and (szi == 0 or (szi > 0) == order.is_buy):
                return self._reject(order, "reduceOnlyRejected",
                                    f"Reduce only order would increase position. asset={asset}")
            self._status(order, OPEN)
            self._arm(order)
            return self._resting_status(order)
        return self._submit(account, order, builder, touched, check_margin=True)

    def _closes_position(self, account: Account, order: Order) -> bool:
        position = account.positions.get(order.asset)
        return (order.reduce_only and position is not None and (position.szi > 0) != order.is_buy
                and order.sz >= abs(position.szi))

    def _resting_status(self, order: Order) -> dict:
        body = {"oid": order.oid}
        if order.cloid is not None:
            body["cloid"] = order.cloid
        return {"resting": body}

    def _submit(self, account: Account, order: Order, builder, touched: set, check_margin: bool) -> dict:
        asset = order.asset
        position = account.positions.get(asset)
        szi = position.szi if position is not None else 0
        if order.reduce_only:
            if szi == 0 or (szi > 0) == order.is_buy:
                return self._reject(order, "reduceOnlyRejected",
                                    f"Reduce only order would increase position. asset={asset}")
            if order.sz > abs(szi):
                order.sz = order.orig_sz = abs(szi)
        book = self._books[asset]
        if order.tif == "Alo":
            best = book.best_ask() if order.is_buy else book.best_bid()
            if best is not None and (order.px >= best if order.is_buy else order.px <= best):
                bid, ask = book.best_bid(), book.best_ask()
                bbo = f"{'None' if bid is None else fmt(bid, order.pxd)}@{'None' if ask is None else fmt(ask, order.pxd)}"
                return self._reject(order, "badAloPxRejected",
                                    f"Post only order would have immediately matched, bbo was {bbo}. asset={asset}")
        settings = account.settings.get(asset) or self._settings(account, asset)
        if check_margin and not order.reduce_only:
            opening = order.sz if szi == 0 or (szi > 0) == order.is_buy else max(0, order.sz - abs(szi))
            if opening:
                required = order.px * opening // settings[1]
                marks = self._marks
                if account.positions:
                    for held in account.positions:
                        if marks[held] == DIRTY:
                            self._mark(held)
                    free = free_collateral(account, marks)
                else:
                    free = account.cash - account.reserved
                if free < required:
                    return self._reject(order, "perpMarginRejected",
                                        f"Insufficient margin to place order. asset={asset}")
        if order.is_buy:
            keys = book.ask_keys
            crosses = keys and keys[-1] >= -order.px
        else:
            keys = book.bid_keys
            crosses = keys and keys[-1] >= order.px
        if crosses:
            filled_sz, filled_ntl = self._match(account, order, builder, touched)
        else:
            filled_sz = filled_ntl = 0
        if order.sz == 0:
            self._status(order, "filled")
            return self._filled_status(order, filled_sz, filled_ntl)
        if order.tif == "Ioc":
            if filled_sz == 0:
                if order.trigger_px is not None or order.is_market:
                    return self._reject(order, "marketOrderNoLiquidityRejected",
                                        "No liquidity available for market order.")
                return self._reject(order, "iocCancelRejected",
                                    f"Order could not immediately match against any resting orders. asset={asset}")
            self._status(order, "filled")
            self._arm_children(order)
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
        if self._armed:
            touched.add(asset)
        if self._pending is not None:
            self._pending["book"].add(asset)
        if order.status != OPEN or self._pending is not None:
            self._status(order, OPEN)
        return self._resting_status(order)

    def _filled_status(self, order: Order, filled_sz: int, filled_ntl: int) -> dict:
        if filled_ntl % filled_sz == 0:
            average_text = fmt(filled_ntl // filled_sz, order.pxd)
        else:
            # ntl has pxd + szd = MONEY_DECIMALS decimals, so ntl * 100 / sz is the average in units of
            # 10**-(pxd + 2); round half to even like Decimal.quantize did
            average, remainder = divmod(filled_ntl * 100, filled_sz)
            if 2 * remainder > filled_sz or (2 * remainder == filled_sz and average & 1):
                average += 1
            average_text = fmt(average, order.pxd + 2)
        body = {"totalSz": fmt(filled_sz, order.szd), "avgPx": average_text, "oid": order.oid}
        if order.cloid is not None:
            body["cloid"] = order.cloid
        return {"filled": body}

    # ------------------------------------------------------------------ cancels and modifies

    def _find(self, account: Account, key: int | str) -> Order | None:
        if isinstance(key, str):
            return account.cloids.get(key.lower())
        order = self._orders.get(key)
        return order if order is not None and order.user == account.address else None

    def _cancel_order(self, order: Order, status: str = "canceled") -> bool:
        account = self._accounts[order.user]
        if order.oid in account.open_orders:
            if order.trigger_px is not None and order in self._triggers[order.asset]:
                self._triggers[order.asset].remove(order)
                self._armed -= 1
                account.open_orders.pop(order.oid)
                self._status(order, status)
                return True
            self._books[order.asset].remove(order)
            self._retire(order, status)
            return True
        parent = order.parent
        if parent is not None and parent.children and order in parent.children:
            parent.children.remove(order)
            self._status(order, status)
            return True
        return False

    def cancel(self, user: str, cancels: list[tuple[int, int]]) -> list:
        """Cancel orders by ``(asset, oid)``; return ``"success"`` or ``{"error": ...}`` per cancel."""
        return self._cancel_many(user, cancels)

    def cancel_by_cloid(self, user: str, cancels: list[tuple[int, str]]) -> list:
        """Cancel orders by ``(asset, cloid)``; same statuses as ``cancel``."""
        return self._cancel_many(user, cancels)

    def _cancel_many(self, user: str, cancels: list) -> list:
        account = self._account(user)
        account.n_requests += len(cancels)
        self._begin()
        out: list = []
        for asset, key in cancels:
            order = self._find(account, key)
            if order is not None and order.asset == asset and self._cancel_order(order):
                out.append("success")
            else:
                out.append({"error": f"Order was never placed, already canceled, or filled. asset={asset}"})
        self._flush()
        return out

    def batch_modify(self, user: str, modifies: list[tuple[int | str, OrderRequest]]) -> list:
        """Replace live orders: the old order is canceled and the new one gets a new oid."""
        account = self._account(user)
        self._begin()
        touched: set[int] = set()
        out: list = []
        for key, request in modifies:
            account.n_requests += 1
            order = self._find(account, key)
            if order is None or not self._cancel_order(order):
                out.append({"error": "Cannot modify canceled or filled order"})
                continue
            out.append(self._place(account, request, None, touched))
        if touched and self._armed:
            self._after_trading(touched)
        self._flush()
        return out

    def schedule_cancel(self, user: str, time_ms: int | None) -> None:
        """Cancel all the user's open orders at ``time_ms`` (>= now + 5 s); None removes the schedule."""
        account = self._account(user)
        account.n_requests += 1
        if time_ms is None:
            account.scheduled_cancel = None
            return
        if time_ms < self.now_ms + SCHEDULE_MIN_DELAY_MS:
            raise EngineError("Scheduled cancel time too early, must be at least 5 seconds from now.")
        day = self.now_ms // DAY_MS
        if account.schedule_day == day and account.schedule_count >= MAX_SCHEDULED_CANCELS_PER_DAY:
            raise EngineError("Too many scheduled cancels today; the limit is 10 per day.")
        account.scheduled_cancel = time_ms

    # ------------------------------------------------------------------ leverage, margin, transfers

    def update_leverage(self, user: str, asset: int, is_cross: bool, leverage: int) -> None:
        """Set cross/isolated mode and leverage (1..maxLeverage) of an asset for the user."""
        account = self._account(user)
        account.n_requests += 1
        if not isinstance(asset, int) or not 0 <= asset < len(self._specs):
            raise EngineError(f"Unknown asset. asset={asset}")
        spec = self._specs[asset]
        if not isinstance(leverage, int) or not 1 <= leverage <= spec.max_leverage:
            raise EngineError(f"Invalid leverage value: {leverage} (allowed 1..{spec.max_leverage}). asset={asset}")
        if is_cross and spec.only_isolated:
            raise EngineError(f"Cross margin is not allowed for this asset. asset={asset}")
        settings = self._settings(account, asset)
        position = account.positions.get(asset)
        if position is not None and settings[0] != bool(is_cross):
            raise EngineError(f"Cannot switch leverage type with open position. asset={asset}")
        settings[0] = bool(is_cross)
        settings[1] = leverage

    def update_isolated_margin(self, user: str, asset: int, ntli: int) -> None:
        """Add (positive) or remove (negative) ``ntli`` micro-USDC of isolated margin on a position."""
        account = self._account(user)
        account.n_requests += 1
        position = account.positions.get(asset) if isinstance(asset, int) else None
        if position is None or self._settings(account, asset)[0]:
            raise EngineError(f"Cannot update margin for position that is not isolated. asset={asset}")
        fig = figures(account, self._specs, self._mark_or_zero)
        if ntli > 0 and available(account, fig) < ntli:
            raise EngineError(f"Insufficient margin to add isolated margin. asset={asset}")
        if ntli < 0:
            mark = self._mark_or_zero(asset)
            upnl = position.szi * mark - position.basis
            required = abs(position.szi) * mark // account.settings[asset][1]
            if position.iso_margin + upnl + ntli < required:
                raise EngineError(f"Insufficient isolated margin to remove. asset={asset}")
        account.cash -= ntli
        position.iso_margin += ntli

    def usd_class_transfer(self, user: str, amount: str, to_perp: bool) -> None:
        """Move USDC between the perp and spot accounts and log an ``accountClassTransfer``."""
        account = self._account(user)
        micro = self._amount(amount)
        if to_perp:
            if account.spot_usdc < micro:
                raise EngineError("Insufficient spot balance for transfer.")
            account.spot_usdc -= micro
            account.cash += micro
        else:
            if withdrawable(account, figures(account, self._specs, self._mark_or_zero)) < micro:
                raise EngineError("Insufficient margin for transfer.")
            account.cash -= micro
            account.spot_usdc += micro
        self._ledger(account, {"type": "accountClassTransfer", "usdc": fmt(micro, MONEY_DECIMALS),
                               "toPerp": bool(to_perp)})
        self._flush()

    def usd_send(self, user: str, destination: str, amount: str) -> None:
        """Send perp USDC to another address (created if new); both ledgers get an ``internalTransfer``."""
        account = self._account(user)
        micro = self._amount(amount)
        if withdrawable(account, figures(account, self._specs, self._mark_or_zero)) < micro:
            raise EngineError("Insufficient margin for transfer.")
        target = self._account(destination)
        account.cash -= micro
        target.cash += micro
        delta = {"type": "internalTransfer", "usdc": fmt(micro, MONEY_DECIMALS), "user": account.address,
                 "destination": target.address, "fee": "0.0"}
        self._ledger(account, delta)
        self._ledger(target, dict(delta))
        self._flush()

    def _amount(self, amount) -> int:
        parsed = parse_decimal(str(amount).strip())
        micro = scale(parsed, MONEY_DECIMALS) if parsed is not None else None
        if not micro:
            raise EngineError(f"Invalid amount: {amount!r} was received")
        return micro


def _trades_wire(raw: tuple) -> list[dict]:
    coin, pxd, szd, rows = raw
    return [trade_wire(coin, pxd, szd, row) for row in rows]


def _fills_wire(fills: list[tuple]) -> list[dict]:
    return [fill_wire(fill) for fill in fills]


def _updates_wire(snapshots: list[tuple]) -> list[dict]:
    return [update_wire(snapshot) for snapshot in snapshots]


def _truncate(parsed: tuple[int, int] | None, decimals: int) -> int:
    if parsed is None:
        return 0
    mantissa, places = parsed
    return mantissa * 10**decimals // 10**places
