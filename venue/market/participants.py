"""Internal venue participants: a ladder market maker and Poisson takers.

Both are ordinary funded engine users that act through ``engine.place_orders``
and ``engine.cancel``, exactly like an external client would, so every trade
they print goes through the same matching, fees and WebSocket events.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pairflow.market_defaults import TAKER_MEDIAN_NOTIONAL, TAKER_RATE_PER_MINUTE
from venue.engine import Channel, EngineEvent, Filled, Limit, OrderRequest, Rejected, Resting, Tif
from venue.engine.funding import impact_notional
from venue.market.bounds import bounded, check_bounds
from venue.market.quoting import (
    Quote,
    QuoteConfig,
    build_ladder,
    center_for_premium,
    grid_position,
    impact_half_width,
)
from venue.market.ticks import format_price, format_size, min_size, round_price, round_size

__all__ = ["MarketMaker", "PoissonTakers", "TakerConfig", "internal_address"]

_GTC = Limit(Tif.GTC)
_IOC = Limit(Tif.IOC)


def internal_address(role: str) -> str:
    """Return the fixed lowercase address of an internal participant, derived from its role name."""
    return "0x" + hashlib.sha256(f"pairflow-venue-{role}".encode()).hexdigest()[:40]


@dataclass
class MarketMaker:
    """Keep a ladder of resting orders on each coin's price grid around its centre price.

    Levels live on a fixed price grid (see `build_ladder`), so the maker only
    acts when the centre crosses a grid line or the coin traded: it cancels
    the levels that left the ladder and tops up levels whose resting size fell
    below half of the target. Orders that stay keep their queue position. The
    centre is skewed by the funding premium target and against the maker's
    own inventory so the book leans back toward flat; an integral correction
    driven by the premium the venue actually samples removes the bias of the
    coarse grid, so the hourly funding lands on the target. Every `reconcile_ms` the
    maker re-reads its open orders from the engine, so an order removed behind
    its back (or filled while being placed) never leaves a permanent hole.

    Parameters
    ----------
    quote
        Ladder shape.
    inventory_skew_bps
        Centre shift at `inventory_limit` USD of inventory (pro rata below it).
    inventory_limit
        Inventory notional at which the skew saturates.
    reconcile_ms
        Simulated time between re-reads of the maker's open orders.
    premium_gain_per_s
        Integral gain of the premium correction (fraction of the error per second).
    max_premium_correction
        Bound of the premium correction, as a fraction of the price.
    """

    quote: QuoteConfig = field(default_factory=QuoteConfig)
    inventory_skew_bps: float = 4.0
    inventory_limit: float = 250_000.0
    reconcile_ms: int = 60_000
    premium_gain_per_s: float = 0.02
    max_premium_correction: float = 0.001
    address: str = field(default_factory=lambda: internal_address("maker"))
    resting: dict[str, dict[int, list]] = field(default_factory=dict)
    grid: dict[str, tuple[int, int]] = field(default_factory=dict)
    traded: set[str] = field(default_factory=set)
    inventory: dict[str, float] = field(default_factory=dict)
    impact_width: dict[str, float] = field(default_factory=dict)
    premium_correction: dict[str, float] = field(default_factory=dict)
    ladders: dict[str, tuple[tuple[int, int], list[Quote]]] = field(default_factory=dict)
    last_reconcile_ms: int | None = None
    rejected: int = 0

    def on_event(self, event: EngineEvent) -> None:
        """Mark coins that traded, shrink filled orders and track inventory (engine listener)."""
        if event.channel is Channel.TRADES:
            self.traded.add(event.key)
        elif event.channel is Channel.FILLS and event.key == self.address:
            for fill in event.data:
                size = float(fill.sz)
                self.inventory[fill.coin] = self.inventory.get(fill.coin, 0.0) + (size if fill.is_buy else -size)
                orders = self.resting.get(fill.coin, {})
                order = orders.get(fill.oid)
                if order is not None:
                    order[2] -= fill.sz
                    if order[2] <= 0:
                        del orders[fill.oid]

    def center(
        self,
        coin: str,
        fair: float,
        premium: float,
        sz_decimals: int,
        observed_premium: float | None = None,
        dt_ms: int = 0,
    ) -> float:
        """Return where to centre the ladder of `coin` given its fair value and premium target.

        `observed_premium` is the venue's latest premium sample (None between
        samples); the correction moves toward closing the gap between it and
        the target at `premium_gain_per_s` over the `dt_ms` the sample stands for.
        """
        correction = self.premium_correction.get(coin, 0.0)
        if observed_premium is not None and dt_ms:
            correction += self.premium_gain_per_s * dt_ms / 1000.0 * (premium - observed_premium)
            bound = self.max_premium_correction
            correction = self.premium_correction[coin] = max(-bound, min(bound, correction))
        width = self.impact_width.get(coin)
        if width is None:
            ladder = build_ladder(fair, sz_decimals, self.quote)
            width = self.impact_width[coin] = impact_half_width(ladder, fair, impact_notional(coin))
        inventory_notional = self.inventory.get(coin, 0.0) * fair
        lean = max(-1.0, min(1.0, inventory_notional / self.inventory_limit))
        skewed = fair * (1.0 - lean * self.inventory_skew_bps / 10_000.0)
        return center_for_premium(skewed, premium, width) * (1.0 + correction)

    def needs_quote(self, coin: str, center: float) -> bool:
        """Tell whether the ladder of `coin` must change: it traded or the centre crossed a grid line."""
        return coin in self.traded or self.grid.get(coin) != grid_position(center, self.quote)

    def requote(self, engine: Any, asset: int, coin: str, center: float, sz_decimals: int) -> None:
        """Bring the resting ladder of `coin` to the one wanted around `center`."""
        position = grid_position(center, self.quote)
        cached = self.ladders.get(coin)
        if cached is not None and cached[0] == position:
            ladder = cached[1]
        else:
            ladder = build_ladder(center, sz_decimals, self.quote)
            self.ladders[coin] = (position, ladder)
            self.impact_width[coin] = impact_half_width(ladder, center, impact_notional(coin))
        wanted = {(quote.is_buy, quote.px): quote for quote in ladder}
        resting = self.resting.setdefault(coin, {})
        stale, resting_size = [], {}
        for oid, (is_buy, px, size) in resting.items():
            if (is_buy, px) in wanted:
                resting_size[(is_buy, px)] = resting_size.get((is_buy, px), 0) + size
            else:
                stale.append(oid)
        if stale:
            engine.cancel(self.address, [(asset, oid) for oid in stale])
            for oid in stale:
                del resting[oid]
        missing = []
        for key, quote in wanted.items():
            have = resting_size.get(key, 0)
            if have * 2 < quote.sz:
                size = max(quote.sz - have, min_size(float(quote.px), sz_decimals))
                missing.append(Quote(quote.is_buy, quote.px, size))
        if missing:
            orders = [
                OrderRequest(asset, q.is_buy, format_price(q.px), format_size(q.sz), False, _GTC) for q in missing
            ]
            for quote, status in zip(missing, engine.place_orders(self.address, orders)):
                if isinstance(status, Resting):
                    resting[status.oid] = [quote.is_buy, quote.px, quote.sz]
                elif isinstance(status, Rejected):
                    self.rejected += 1
        self.grid[coin] = position
        self.traded.discard(coin)

    def reconcile(self, engine: Any, now_ms: int) -> None:
        """Re-read the maker's open orders from the engine when `reconcile_ms` has passed."""
        if self.last_reconcile_ms is not None and now_ms - self.last_reconcile_ms < self.reconcile_ms:
            return
        self.last_reconcile_ms = now_ms
        self.resting = {}
        for order in engine.open_orders(self.address):
            self.resting.setdefault(order.coin, {})[order.oid] = [order.is_buy, order.limit_px, order.sz]


@dataclass(frozen=True)
class TakerConfig:
    """Arrival and size of taker orders.

    Parameters
    ----------
    rate_per_minute
        Mean taker orders per coin per simulated minute (Poisson arrivals).
    median_notional
        Median USD notional of a taker order (log-normal sizes).
    notional_dispersion
        Standard deviation of the log of the notional.
    slippage_bps
        How far through fair value an IOC order's limit price reaches.
    inventory_limit
        Takers lean toward flattening their inventory as it approaches this notional.
    """

    rate_per_minute: float = bounded(TAKER_RATE_PER_MINUTE, ge=0)
    median_notional: float = bounded(TAKER_MEDIAN_NOTIONAL, gt=0)
    notional_dispersion: float = bounded(0.8, ge=0)
    slippage_bps: float = bounded(15.0, ge=0)
    inventory_limit: float = bounded(200_000.0, gt=0)

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass
class PoissonTakers:
    """Send IOC orders against the book with Poisson arrivals, seeded for reproducibility."""

    config: TakerConfig = field(default_factory=TakerConfig)
    seed: int = 0
    address: str = field(default_factory=lambda: internal_address("taker"))
    inventory: dict[str, float] = field(default_factory=dict)
    sent: int = 0
    unfilled: int = 0

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng([self.seed, 0x7A4E])

    def step(self, engine: Any, asset: int, coin: str, fair: float, sz_decimals: int, dt_ms: float) -> None:
        """Send this step's taker orders for `coin` (none most steps at realistic rates)."""
        config = self.config
        arrivals = int(self._rng.poisson(config.rate_per_minute * dt_ms / 60_000.0))
        for _ in range(arrivals):
            notional = max(12.0, config.median_notional * math.exp(config.notional_dispersion * self._rng.standard_normal()))
            lean = max(-0.4, min(0.4, self.inventory.get(coin, 0.0) * fair / config.inventory_limit * 0.4))
            is_buy = bool(self._rng.random() < 0.5 - lean)
            reach = config.slippage_bps / 10_000.0
            px = round_price(fair * (1.0 + reach if is_buy else 1.0 - reach), sz_decimals, up=is_buy)
            if px <= 0:
                continue
            sz = max(round_size(notional / fair, sz_decimals), min_size(float(px), sz_decimals))
            order = OrderRequest(asset, is_buy, format_price(px), format_size(sz), False, _IOC)
            (status,) = engine.place_orders(self.address, [order])
            self.sent += 1
            if isinstance(status, Filled):
                filled = float(status.total_sz)
                self.inventory[coin] = self.inventory.get(coin, 0.0) + (filled if is_buy else -filled)
            else:
                self.unfilled += 1
