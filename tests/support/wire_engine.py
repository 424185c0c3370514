"""An engine whose actions and queries answer wire shapes, for tests written against the exchange's JSON.

Each method calls the typed engine and formats the result with ``venue.server.wire`` exactly as the
server does, so such a test checks the engine and the formatter together against the exchange's
strings. Listeners receive `WireEvent`s: the engine's event with its payload formatted as the
WebSocket layer formats it. Everything else (funding, time, the lock) passes through to the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.support.venue import ASSETS
from venue.engine import AssetSpec, Channel, Engine, EngineEvent, Grouping
from venue.server.wire import account, market

FORMATS = {
    Channel.TRADES: lambda trades: [market.trade(trade) for trade in trades],
    Channel.FILLS: lambda fills: [account.fill(fill) for fill in fills],
    Channel.ORDER_UPDATES: lambda records: [account.order_update(record) for record in records],
    Channel.FUNDING: account.funding_event,
    Channel.LEDGER: account.ledger_update,
    Channel.LIQUIDATION: account.liquidation,
    Channel.NON_USER_CANCEL: lambda orders: [account.non_user_cancel(order) for order in orders],
    Channel.CANDLE: market.candle,
    Channel.BOOK: lambda data: data,
    Channel.CTX: lambda data: data,
}
"""Channel -> formatter of its payload, as the WebSocket router applies them."""


class WireEvent:
    """An engine event whose ``data`` is the wire payload (formatted on first read, like the engine's)."""

    def __init__(self, event: EngineEvent) -> None:
        self.channel = event.channel
        self.key = event.key
        self._event = event

    @property
    def data(self) -> Any:
        return FORMATS[self.channel](self._event.data)


class WireListener:
    """Call ``fn`` with `WireEvent`s; equal to ``fn`` so the engine can remove it by ``fn``."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def __call__(self, event: EngineEvent) -> None:
        self.fn(WireEvent(event))

    def __eq__(self, other: object) -> bool:
        return self.fn == (other.fn if isinstance(other, WireListener) else other)

    __hash__ = None


class WireEngine:
    """Wrap an `Engine`; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __getattr__(self, name: str) -> Any:
        if name == "engine":  # not set yet (unpickling): never recurse
            raise AttributeError(name)
        return getattr(self.engine, name)

    def add_listener(self, fn) -> None:
        self.engine.add_listener(WireListener(fn))

    def remove_listener(self, fn) -> None:
        self.engine.remove_listener(fn)

    # actions
    def place_orders(self, user, orders, grouping="na", builder=None) -> list:
        return [account.order_status(s) for s in self.engine.place_orders(user, orders, Grouping(grouping), builder)]

    def batch_modify(self, user, modifies) -> list:
        return [account.order_status(status) for status in self.engine.batch_modify(user, modifies)]

    def cancel(self, user, cancels) -> list:
        return [account.cancel_status(status) for status in self.engine.cancel(user, cancels)]

    def cancel_by_cloid(self, user, cancels) -> list:
        return [account.cancel_status(status) for status in self.engine.cancel_by_cloid(user, cancels)]

    # market queries
    def meta(self) -> dict:
        return market.meta(self.engine.assets)

    def meta_and_asset_ctxs(self) -> list:
        return market.meta_and_asset_ctxs(self.engine.assets, self.engine.asset_contexts())

    def active_asset_ctx(self, coin) -> dict:
        return market.active_asset_ctx(self.engine.asset_context(coin))

    def all_mids(self) -> dict:
        return market.all_mids(self.engine.all_mids())

    def l2_book(self, coin, n_sig_figs=None, n_levels=20) -> dict:
        return market.l2_book(self.engine.l2_book(coin, n_sig_figs, n_levels))

    def bbo(self, coin) -> dict:
        return market.bbo(self.engine.bbo(coin))

    def candle_snapshot(self, coin, interval, start_ms, end_ms=None) -> list:
        return [market.candle(bar) for bar in self.engine.candle_snapshot(coin, interval, start_ms, end_ms)]

    def recent_trades(self, coin) -> list:
        return [market.trade(trade) for trade in self.engine.recent_trades(coin)]

    def funding_history(self, coin, start_ms, end_ms=None) -> list:
        return [market.funding_rate(row) for row in self.engine.funding_history(coin, start_ms, end_ms)]

    # user queries
    def clearinghouse_state(self, user) -> dict:
        return account.clearinghouse_state(self.engine.clearinghouse_state(user))

    def spot_clearinghouse_state(self, user) -> dict:
        return account.spot_clearinghouse_state(self.engine.spot_balances(user))

    def open_orders(self, user) -> list:
        return [account.basic_order(view) for view in self.engine.open_orders(user)]

    def frontend_open_orders(self, user) -> list:
        return [account.frontend_order(view) for view in self.engine.open_orders(user)]

    def user_fills(self, user) -> list:
        return [account.fill(fill) for fill in self.engine.user_fills(user)]

    def user_fills_by_time(self, user, start_ms, end_ms=None, aggregate=False) -> list:
        return [account.fill(fill) for fill in self.engine.user_fills_by_time(user, start_ms, end_ms, aggregate)]

    def user_funding(self, user, start_ms, end_ms=None) -> list:
        return [account.user_funding(row) for row in self.engine.user_funding(user, start_ms, end_ms)]

    def user_non_funding_ledger_updates(self, user, start_ms, end_ms=None) -> list:
        rows = self.engine.user_non_funding_ledger_updates(user, start_ms, end_ms)
        return [account.ledger_update(row) for row in rows]

    def order_status(self, user, oid_or_cloid) -> dict:
        return account.order_status_response(self.engine.order_status(user, oid_or_cloid))

    def historical_orders(self, user) -> list:
        return [account.historical_order(record) for record in self.engine.historical_orders(user)]

    def user_fees(self, user) -> dict:
        return account.user_fees(self.engine.user_fees(user))

    def user_rate_limit(self, user) -> dict:
        return account.user_rate_limit(self.engine.user_rate_limit(user))

    def extra_agents(self, user) -> list:
        return account.extra_agents(self.engine.extra_agents(user))


T0 = 1_789_999_200_000
"""The engine tests' start time, on an hour boundary (funding settles on the hour)."""


def funded_engine(funds: dict[str, str], assets: Sequence[AssetSpec] = ASSETS,
                  eth_oracle: float | None = 2000.0) -> WireEngine:
    """Return a wire engine at `T0` listing ``assets``, each user of ``funds`` credited its USDC, and the
    ETH oracle set (most tests trade ETH, whose margin and marks need an oracle price)."""
    engine = WireEngine(Engine(list(assets), now_ms=T0))
    for user, usdc in funds.items():
        engine.fund(user, usdc)
    if eth_oracle is not None:
        engine.set_oracle("ETH", eth_oracle)
    return engine
