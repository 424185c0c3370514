"""Shared mechanics of the market drivers: oracle updates, maker ladders and takers per step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from venue.market.participants import MarketMaker, PoissonTakers
from venue.universe import Universe

__all__ = ["INTERNAL_FUNDING_USDC", "QuotedMarket"]

INTERNAL_FUNDING_USDC = 1_000_000_000
# Takers act on at most this much elapsed time per step, so a jump in time (restart after downtime,
# a loop that fell behind) moves prices correctly without a burst of thousands of orders.
MAX_TAKER_WINDOW_MS = 10_000
# The venue samples each coin's premium every 5 s; the maker reads it once per sample.
PREMIUM_SAMPLE_MS = 5_000


@dataclass
class QuotedMarket:
    """Base driver: each step sets every coin's oracle to its target fair value, lets the maker
    requote around it (skewed by the premium target) and lets the takers trade.

    Subclasses implement `targets(now_ms, dt_ms) -> {coin: (fair_value, premium)}`.
    The driver pickles with the engine snapshot; after a restore call `attach` again
    to re-register its engine listener.
    """

    universe: Universe
    maker: MarketMaker = field(default_factory=MarketMaker)
    takers: PoissonTakers = field(default_factory=PoissonTakers)
    last_ms: int | None = None
    last_fair: dict[str, float] = field(default_factory=dict)
    _listening_to: int | None = field(default=None, init=False, repr=False, compare=False)

    def attach(self, engine: Any) -> None:
        """Fund the internal participants (first time only) and listen to the engine's trades and fills.

        Attaching twice to the same engine object registers the listener once.
        """
        with engine.lock:
            for address in (self.maker.address, self.takers.address):
                if not engine.is_user(address):
                    engine.fund(address, INTERNAL_FUNDING_USDC)
            if self._listening_to != id(engine):
                engine.add_listener(self.maker.on_event)
                self._listening_to = id(engine)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_listening_to"] = None
        return state

    def targets(self, now_ms: int, dt_ms: int) -> dict[str, tuple[float, float]]:
        """Return each coin's fair value and funding-premium target at `now_ms`."""
        raise NotImplementedError

    def step(self, engine: Any, now_ms: int) -> None:
        """Move the market to `now_ms`: oracles, maker ladders, then taker orders."""
        dt_ms = 0 if self.last_ms is None else max(0, now_ms - self.last_ms)
        self.last_ms = now_ms
        targets = self.targets(now_ms, dt_ms)
        sampled_now = dt_ms > 0 and now_ms // PREMIUM_SAMPLE_MS != (now_ms - dt_ms) // PREMIUM_SAMPLE_MS
        self.maker.reconcile(engine, now_ms)
        for asset, listing in enumerate(self.universe.listings):
            coin = listing.name
            if coin not in targets:
                continue
            fair, premium = targets[coin]
            self.last_fair[coin] = fair
            sz_decimals = listing.spec.sz_decimals
            engine.set_oracle(coin, fair)
            observed = None
            if sampled_now:
                sampled = engine.asset_context(coin).premium
                observed = None if sampled is None else float(sampled)
            center = self.maker.center(coin, fair, premium, sz_decimals, observed, PREMIUM_SAMPLE_MS)
            if self.maker.needs_quote(coin, center):
                self.maker.requote(engine, asset, coin, center, sz_decimals)
            if dt_ms:
                self.takers.step(engine, asset, coin, fair, sz_decimals, min(dt_ms, MAX_TAKER_WINDOW_MS))
