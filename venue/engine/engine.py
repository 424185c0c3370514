"""The Engine facade: a Hyperliquid-compatible exchange without HTTP, built from collaborators.

Collaborators, each with one job, over one `EngineState`: `EventBus` (listeners and the events of the
action in progress), `Accounting` (accounts and margin), `Matching` (book and matching, triggers),
`OrderEntry` (the user's order actions), `TimedEvents` (what ``advance`` drives) and `Queries`
(read-only views). The facade only routes calls and owns the lock; pickling it pickles the state.

Design notes
------------
* Prices and sizes are integers per asset (``10**-(6-szDecimals)`` and ``10**-szDecimals``); money is
  micro-USDC. Typed views with exact `Decimal` numbers are built only when a query or a listener needs them.
* Mark price = median of (best bid, best ask, last trade), each missing input replaced by the oracle;
  without an oracle the median of what exists (two values: their midpoint). With nothing at all the
  oracle is the only source, and a coin with no oracle and no market has no mark.
* Liquidations, triggers on oracle moves, scheduled cancels, funding and ctx events run in ``advance()``;
  triggers are also checked right after every action that traded.
* Events: trades, fills, order updates, non-user cancels and book go out at the end of each action; candle
  events (one per interval for each coin that traded) go out on the next ``advance()``, the way the venue
  pushes candles once per block rather than once per trade. Trades, fills and order updates carry
  immutable snapshots and build their typed payloads on first read, so the matching loop pays for
  them only when a listener actually reads the payload.
* The engine is synchronous: a LatencyModel only shifts the timestamps stamped on orders and fills.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Callable

from .accounting import Accounting
from .entry import OrderEntry
from .events import EventBus
from .fees import HyperliquidFees
from .matching import Matching
from .models import PremiumFunding, PriceTimeQueue, ZeroLatency
from .queries import Queries
from .rules import from_number
from .constants import DIRTY
from .state import EngineState
from .timed import TimedEvents
from .types import AssetSpec, Builder, CancelStatus, EngineError, EngineEvent, Grouping, OrderRequest, OrderStatus
from .views import (
    AccountState, Agent, AssetContext, Bbo, BookSnapshot, Candle, Fill, FundingPayment, FundingRate, LedgerUpdate,
    OrderRecord, OrderView, RateLimit, SpotBalance, Trade, UserFees,
)


class Engine:
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
    funding_model
        FundingModel; defaults to `PremiumFunding` (the documented formula on the sampled premium).
    """

    def __init__(self, assets: list[AssetSpec], *, now_ms: int = 0, fee_model=None, latency_model=None,
                 queue_model=None, funding_model=None) -> None:
        if not assets:
            raise ValueError("assets was empty; the engine needs at least one perp")
        self._wire(EngineState(
            assets, now_ms,
            fee_model if fee_model is not None else HyperliquidFees(),
            latency_model if latency_model is not None else ZeroLatency(),
            queue_model if queue_model is not None else PriceTimeQueue(),
            funding_model if funding_model is not None else PremiumFunding(),
        ))

    def _wire(self, state: EngineState) -> None:
        self.lock = threading.RLock()
        self.state = state
        self._events = EventBus(state)
        self._accounting = Accounting(state, self._events)
        self._matching = Matching(state, self._events, self._accounting)
        self._entry = OrderEntry(state, self._events, self._accounting, self._matching)
        self._timed = TimedEvents(state, self._events, self._accounting, self._matching)
        self._queries = Queries(state, self._accounting)

    def __getstate__(self) -> dict:
        return {"state": self.state}

    def __setstate__(self, saved: dict) -> None:
        state = saved["state"]
        if getattr(state, "funding_model", None) is None:  # saved before funding became a model
            state.funding_model = PremiumFunding()
        self._wire(state)

    @property
    def now_ms(self) -> int:
        """Engine time in ms, moved only by `advance`."""
        return self.state.now_ms

    @property
    def fee_model(self):
        """The FeeModel in use."""
        return self.state.fee_model

    @property
    def latency_model(self):
        """The LatencyModel in use."""
        return self.state.latency_model

    @property
    def queue_model(self):
        """The QueueModel in use."""
        return self.state.queue_model

    # ------------------------------------------------------------------ listeners

    def add_listener(self, fn: Callable[[EngineEvent], None]) -> None:
        """Call ``fn(event)`` synchronously for every engine event (under the caller's lock)."""
        self._events.add_listener(fn)

    def remove_listener(self, fn: Callable[[EngineEvent], None]) -> None:
        """Stop calling ``fn``; a listener that is not registered is ignored (stopping twice is harmless)."""
        self._events.remove_listener(fn)

    @property
    def listeners(self) -> tuple[Callable[[EngineEvent], None], ...]:
        """The registered listeners, in call order."""
        return tuple(self._events.listeners)

    # ------------------------------------------------------------------ accounts, agents and transfers

    def fund(self, user: str, usdc) -> None:
        """Deposit ``usdc`` (str/Decimal/int/float) into the user's perp account and log a deposit."""
        self._accounting.fund(user, usdc)

    def is_user(self, address: str) -> bool:
        """Tell whether the address has an account (was funded or received a transfer)."""
        return self._accounting.is_user(address)

    def approve_agent(self, user: str, agent: str, name: str | None, valid_until_ms: int | None) -> None:
        """Let ``agent`` trade for ``user``; one unnamed agent (replaced on re-approval), up to 3 named."""
        self._accounting.approve_agent(user, agent, name, valid_until_ms)

    def resolve_signer(self, signer: str) -> str | None:
        """Return the acting user of a signer: an agent's master, a known user itself, else None."""
        return self._accounting.resolve_signer(signer)

    def approve_builder_fee(self, user: str, builder: str, max_fee: int) -> None:
        """Let ``builder`` charge ``user`` up to ``max_fee`` tenths of a basis point (persisted with the state)."""
        self._accounting.approve_builder_fee(user, builder, max_fee)

    def max_builder_fee(self, user: str, builder: str) -> int:
        """Return the fee the user approved for the builder, in tenths of a basis point (0 without approval)."""
        return self._accounting.max_builder_fee(user, builder)

    def set_post_only(self, coin: str, on: bool = True) -> None:
        """Accept only post-only (Alo) orders on ``coin`` while ``on``, as the exchange does in that mode.

        Hyperliquid puts a market in this state (at listing, after a halt); takers and triggers
        are refused. The refusal's wording is not recorded in our protocol notes, so the text
        the venue answers (`venue.engine.constants.POST_ONLY_MODE_ERROR`) is this venue's own.
        """
        asset = self.state.asset_index(coin)
        if on:
            self.state.post_only.add(asset)
        else:
            self.state.post_only.discard(asset)

    def set_oracle(self, coin: str, px: float) -> None:
        """Set the oracle price of a perp (used for funding, the 80% band and mark fallbacks)."""
        state = self.state
        asset = state.asset_index(coin)
        if not px > 0:
            raise EngineError(f"Oracle price must be positive, received {px} for {coin}")
        state.oracle[asset] = from_number(px, state.pxd[asset])
        state.marks[asset] = DIRTY

    # ------------------------------------------------------------------ order actions

    def place_orders(self, user: str, orders: list[OrderRequest], grouping: Grouping = Grouping.NA,
                     builder: Builder | None = None) -> list[OrderStatus]:
        """Place a batch of orders for an authenticated user; return one status per order.

        Raise `EngineError` (nothing placed) when the builder is not approved or charges too much.
        """
        return self._entry.place_orders(user, orders, grouping, builder)

    def cancel(self, user: str, cancels: list[tuple[int, int]]) -> list[CancelStatus]:
        """Cancel orders by ``(asset, oid)``; return `Success` or `Rejected` per cancel."""
        return self._entry.cancel(user, cancels)

    def cancel_by_cloid(self, user: str, cancels: list[tuple[int, str]]) -> list[CancelStatus]:
        """Cancel orders by ``(asset, cloid)``; same statuses as ``cancel``."""
        return self._entry.cancel_by_cloid(user, cancels)

    def batch_modify(self, user: str, modifies: list[tuple[int | str, OrderRequest]]) -> list[OrderStatus]:
        """Replace live orders: the old order is canceled and the new one gets a new oid."""
        return self._entry.batch_modify(user, modifies)

    def schedule_cancel(self, user: str, time_ms: int | None) -> None:
        """Cancel all the user's open orders at ``time_ms`` (>= now + 5 s); None removes the schedule."""
        self._entry.schedule_cancel(user, time_ms)

    # ------------------------------------------------------------------ accounts, agents and transfers

    def update_leverage(self, user: str, asset: int, is_cross: bool, leverage: int) -> None:
        """Set cross/isolated mode and leverage (1..maxLeverage) of an asset for the user."""
        self._accounting.update_leverage(user, asset, is_cross, leverage)

    def update_isolated_margin(self, user: str, asset: int, ntli: int) -> None:
        """Add (positive) or remove (negative) ``ntli`` micro-USDC of isolated margin on a position."""
        self._accounting.update_isolated_margin(user, asset, ntli)

    def usd_class_transfer(self, user: str, amount: str, to_perp: bool) -> None:
        """Move USDC between the perp and spot accounts and log an ``accountClassTransfer``."""
        self._accounting.usd_class_transfer(user, amount, to_perp)

    def usd_send(self, user: str, destination: str, amount: str) -> None:
        """Send perp USDC to another address (created if new); both ledgers get an ``internalTransfer``."""
        self._accounting.usd_send(user, destination, amount)

    # ------------------------------------------------------------------ time

    def advance(self, now_ms: int) -> None:
        """Move engine time forward and run what time drives.

        Runs, in order: premium sampling (every 5 s, when the funding model uses it) and hourly funding for
        each hour boundary crossed, scheduled cancels, triggers on the current mark, liquidations, then
        book/ctx events.
        """
        return self._timed.advance(now_ms)

    # ------------------------------------------------------------------ queries

    @property
    def assets(self) -> list[AssetSpec]:
        """The perp universe in asset-id order."""
        return list(self.state.specs)

    def asset_context(self, coin: str) -> AssetContext:
        """Return the market state of one perp."""
        return self._queries.asset_context(coin)

    def asset_contexts(self) -> list[AssetContext]:
        """Return the market state of every perp, in asset-id order."""
        return self._queries.asset_contexts()

    def all_mids(self) -> dict[str, Decimal]:
        """Return coin -> mid (book mid, else last trade, else oracle) for coins that have one."""
        return self._queries.all_mids()

    def l2_book(self, coin: str, n_sig_figs: int | None = None, n_levels: int = 20) -> BookSnapshot:
        """Return up to ``n_levels`` (max 20) levels a side, optionally aggregated to ``n_sig_figs`` (2..5)."""
        return self._queries.l2_book(coin, n_sig_figs, n_levels)

    def bbo(self, coin: str) -> Bbo:
        """Return the best bid and offer (None for an empty side)."""
        return self._queries.bbo(coin)

    def candle_snapshot(self, coin: str, interval: str, start_ms: int, end_ms: int | None = None) -> list[Candle]:
        """Return candles opening in ``[start_ms, end_ms]``, the last one possibly still forming.

        ``end_ms`` defaults to engine time, which runs ahead of wall time on a sped-up venue.
        """
        return self._queries.candle_snapshot(coin, interval, start_ms, end_ms)

    def recent_trades(self, coin: str) -> list[Trade]:
        """Return the latest trades of a coin, oldest first."""
        return self._queries.recent_trades(coin)

    def funding_history(self, coin: str, start_ms: int, end_ms: int | None = None) -> list[FundingRate]:
        """Return the hourly settlements in the range, ascending (max 500)."""
        return self._queries.funding_history(coin, start_ms, end_ms)

    def clearinghouse_state(self, user: str) -> AccountState:
        """Return the user's perp account at current marks (PROTOCOL §2.1 arithmetic)."""
        return self._queries.clearinghouse_state(user)

    def spot_balances(self, user: str) -> list[SpotBalance]:
        """Return the spot balances: USDC when there is some."""
        return self._queries.spot_balances(user)

    def open_orders(self, user: str) -> list[OrderView]:
        """Return the open orders, newest first, with waiting tp/sl children under their parent."""
        return self._queries.open_orders(user)

    def user_fills(self, user: str) -> list[Fill]:
        """Return up to 2000 most recent fills, newest first."""
        return self._queries.user_fills(user)

    def user_fills_by_time(self, user: str, start_ms: int, end_ms: int | None = None,
                           aggregate: bool = False) -> list[Fill]:
        """Return fills in ``[start_ms, end_ms]`` ascending (max 2000).

        ``aggregate`` merges the fills of one order at one time.
        """
        return self._queries.user_fills_by_time(user, start_ms, end_ms, aggregate)

    def user_funding(self, user: str, start_ms: int, end_ms: int | None = None) -> list[FundingPayment]:
        """Return the user's funding payments in the range, ascending (max 500)."""
        return self._queries.user_funding(user, start_ms, end_ms)

    def user_non_funding_ledger_updates(self, user: str, start_ms: int,
                                        end_ms: int | None = None) -> list[LedgerUpdate]:
        """Return deposits and transfers in the range, ascending (max 500)."""
        return self._queries.user_non_funding_ledger_updates(user, start_ms, end_ms)

    def order_status(self, user: str, oid_or_cloid: int | str) -> OrderRecord | None:
        """Return the order with its status, or None when the user has no such order."""
        return self._queries.order_status(user, oid_or_cloid)

    def historical_orders(self, user: str) -> list[OrderRecord]:
        """Return up to 2000 most recent orders (any status, rejected included), newest first."""
        return self._queries.historical_orders(user)

    def user_fees(self, user: str) -> UserFees:
        """Return the user's last 14 days of volume, current rates and the fee model's base rates."""
        return self._queries.user_fees(user)

    def user_rate_limit(self, user: str) -> RateLimit:
        """Return the request budget: 10 000 plus one request per USDC traded."""
        return self._queries.user_rate_limit(user)

    def extra_agents(self, user: str) -> list[Agent]:
        """Return the user's named agents."""
        return self._queries.extra_agents(user)
