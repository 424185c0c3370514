"""The one state object every engine collaborator reads and writes.

The collaborators (matching, accounting, timed events, queries, events) hold no
state of their own apart from caches; everything a snapshot must keep lives here,
so pickling the engine is pickling this object. Marks are derived state and are
cached here too, because matching, margin, triggers and liquidations all read them.
"""

from __future__ import annotations

from collections import deque

from . import candles as candle_mod
from . import funding as funding_mod
from .accounts import Account
from .agents import AgentRegistry
from .book import Book
from .constants import DAY_MS, DIRTY, FIRST_OID, RECENT_TRADES
from .orders import Order
from .types import AssetSpec, EngineError
from .views import FillLiquidation, FundingRate


class EngineState:
    """Books, accounts, orders, prices, funding, candles, counters and engine time.

    Takes the `Engine`'s parameters (documented there) once the facade has filled in the default models;
    the models pickle with the state.
    """

    def __init__(self, assets: list[AssetSpec], now_ms: int, fee_model, latency_model, queue_model,
                 funding_model=None) -> None:
        self.now_ms = now_ms
        self.day = now_ms // DAY_MS
        self.fee_model = fee_model
        self.latency_model = latency_model
        self.queue_model = queue_model
        self.funding_model = funding_model
        self.specs = list(assets)
        self.asset_of = {spec.name: index for index, spec in enumerate(self.specs)}
        self.pxd = [6 - spec.sz_decimals for spec in self.specs]
        self.n_assets = len(self.specs)
        self.books = [Book(queue_model) for _ in self.specs]
        self.oracle: list[int | None] = [None] * self.n_assets
        self.marks: list[int | None] = [DIRTY] * self.n_assets
        self.last: list[int | None] = [None] * self.n_assets
        self.triggers: list[list[Order]] = [[] for _ in self.specs]
        self.armed = 0
        self.recent: list[deque] = [deque(maxlen=RECENT_TRADES) for _ in self.specs]
        self.candles = [candle_mod.CandleSeries() for _ in self.specs]
        self.candle_dirty: set[int] = set()
        self.funding = [funding_mod.FundingState() for _ in self.specs]
        self.funding_rows: list[list[FundingRate]] = [[] for _ in self.specs]
        self.accounts: dict[str, Account] = {}
        self.orders: dict[int, Order] = {}
        self.agents = AgentRegistry()
        self.builder_approvals: dict[str, dict[str, int]] = {}
        self.next_oid = FIRST_OID
        self.next_tid = 1
        self.next_lid = 1
        self.liquidation: FillLiquidation | None = None
        self.sweeps: list[tuple[Account, int]] = []
        self.post_only: set[int] = set()

    def find_order(self, account: Account, key: int | str) -> Order | None:
        """Return the account's order by oid or cloid, or None."""
        if isinstance(key, str):
            return account.cloids.get(key.lower())
        order = self.orders.get(key)
        return order if order is not None and order.user == account.address else None

    def set_time(self, now_ms: int) -> None:
        """Move engine time (callers check it never goes backwards)."""
        self.now_ms = now_ms
        self.day = now_ms // DAY_MS

    def asset_index(self, coin: str) -> int:
        """Return the asset id of a coin or raise `EngineError`."""
        asset = self.asset_of.get(coin)
        if asset is None:
            raise EngineError(f"Unknown coin {coin}")
        return asset

    def mark(self, asset: int) -> int | None:
        """Return the (cached) mark price of an asset, or None when it has no price at all."""
        cached = self.marks[asset]
        if cached != DIRTY:
            return cached
        mark = self.marks[asset] = self._compute_mark(asset)
        return mark

    def _compute_mark(self, asset: int) -> int | None:
        book = self.books[asset]
        oracle = self.oracle[asset]
        bid = book.bid_keys[-1] if book.bid_keys else oracle
        ask = -book.ask_keys[-1] if book.ask_keys else oracle
        last = self.last[asset]
        if last is None:
            last = oracle
        if bid is not None and ask is not None and last is not None:
            low, high = (bid, ask) if bid < ask else (ask, bid)
            return low if last < low else high if last > high else last
        present = [value for value in (bid, ask, last) if value is not None]
        if len(present) == 2:
            return (present[0] + present[1]) // 2
        return present[0] if present else None

    def mark_or_zero(self, asset: int) -> int:
        """Return the mark, 0 when there is none (margin arithmetic treats it as worthless)."""
        mark = self.mark(asset)
        return 0 if mark is None else mark

    def reference(self, asset: int) -> int | None:
        """Return the oracle, else the mark: the price funding and the 80% band refer to."""
        oracle = self.oracle[asset]
        return oracle if oracle is not None else self.mark(asset)
