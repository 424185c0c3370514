"""The backtest's simulated executor: the venue's matching engine in-process, fed the recorded market.

The router and desk that trade live stay as they are; only the exchange
behind them is replaced. `SimulatedMarket` drives one `venue.engine.Engine`
from the replay:

* time: `advance` moves engine time to each event's time, so the engine
  settles funding at every hour crossed -- at the recorded rate
  (`RecordedFunding`, a `venue.engine.FundingModel`), on every open leg;
* prices: the recorded oracle prices (the asset contexts a collector stored),
  each set at its time; before it crosses an hour, `advance` sets those stamped
  before the hour, and never one stamped at or after it, so the hour settles at
  the oracle the venue settled at, known then. A coin without a recorded oracle
  yet takes its bars' closes instead (`SimulatedMarket.mark`);
* fills on bar data (`SimulatedMarket.fill_at`): when an order arrives, a liquidity account
  rests the opposite side at the fill price -- the bar's close, or the next
  bar's open (``next_open``: the orders of bar t's signals wait for bar t+1's
  open) -- sized to the order, so a marketable order fills there and a limit
  that does not reach it does not;
* fills against recorded depth instead (``l2_snapshots`` and ``trades``):
  `sinks.book_fills.RecordedDepth` -- book-walking takers, queue-position makers;
* fees come from the engine's fee model (the venue's schedule by default,
  `FlatFees` for fixed rates), latency from its latency model.

`SimulatedExecutor` is the `sinks.executor.Executor` the router speaks to: it
quotes the liquidity, then hands the order to the executor over the
engine's API (``HyperliquidExecutor`` on an in-process client) and withdraws
what was not taken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from operators.order_rules import AssetRules
from sinks.book_fills import RecordedDepth
from sinks.executor import Executor, LegOrder, Placement
from venue.engine import Engine, Limit, OrderRequest, Tif

__all__ = ["FlatFees", "RecordedFunding", "SimulatedExecutor", "SimulatedMarket"]

HOUR_MS = 3_600_000
LIQUIDITY = "0x" + "1" * 40
"""The account that stands on the other side of every simulated fill."""


class RecordedFunding:
    """`venue.engine.FundingModel` charging the recorded hourly rate; an hour without a record charges 0.

    Examples
    --------
    >>> RecordedFunding({("ETH", 7_200_000): 1.25e-05}).hourly_rate("ETH", 7_200_000, Decimal(0))
    Decimal('0.0000125')
    """

    uses_premium = False
    """The rate is the record's, so the engine skips sampling the books every 5 s for it."""

    def __init__(self, rates: Mapping[tuple[str, int], float]) -> None:
        self.rates = {(coin, ts // HOUR_MS * HOUR_MS): rate for (coin, ts), rate in rates.items()}

    def hourly_rate(self, coin: str, time_ms: int, average_premium: Decimal) -> Decimal:
        """Return the rate recorded for the hour starting at ``time_ms``'s hour, else 0."""
        return Decimal(repr(self.rates.get((coin, time_ms // HOUR_MS * HOUR_MS), 0.0)))


class FlatFees:
    """`venue.engine.FeeModel` with fixed taker and maker rates (fractions of notional) for every account."""

    def __init__(self, taker: float, maker: float = 0.0) -> None:
        self.taker, self.maker = taker, maker

    def rates(self, user: str, volume_14d_usd: int) -> tuple[int, int]:
        """Return ``(taker, maker)`` in units of 1e-8; the liquidity account pays nothing."""
        if user == LIQUIDITY:
            return 0, 0
        return round(self.taker * 1e8), round(self.maker * 1e8)


class SimulatedMarket:
    """Drive one engine from the replay: time, oracle prices and the fill price per coin.

    ``oracles`` are the recorded oracle prices, ``(time, price)`` per coin in time order (see the module).

    Examples
    --------
    >>> from venue.universe import default_universe
    >>> from operators.order_rules import AssetRules
    >>> engine = Engine(default_universe().subset(["ETH"]).specs, now_ms=0)
    >>> market = SimulatedMarket(engine, AssetRules({}), 0.0, {"ETH": [(HOUR_MS - 1, 2010.0), (HOUR_MS, 2500.0)]})
    >>> market.mark("ETH", 2000.0); market.advance(HOUR_MS - 1)
    >>> market.mark("ETH", 2222.0)  # recorded at 00:59:59.999: the closes no longer mark
    >>> str(engine.asset_context("ETH").oracle_px)
    '2010.00'
    >>> market.advance(HOUR_MS); str(engine.asset_context("ETH").oracle_px)  # 01:00 settled at 2010, then 2500
    '2500.00'
    """

    def __init__(self, engine: Engine, rules: AssetRules, capital: float,
                 oracles: Mapping[str, Sequence[tuple[int, float]]] | None = None) -> None:
        self.engine = engine
        self.rules = rules
        self.fill_px: dict[str, float] = {}
        self.asset_of = {spec.name: index for index, spec in enumerate(engine.assets)}
        self._oracles = sorted((ts, coin, px) for coin, series in (oracles or {}).items() if coin in self.asset_of
                               for ts, px in series)
        self._next_oracle = 0
        self.recorded: set[str] = set()
        """Coins whose oracle the recording has set: their bars no longer mark it."""
        engine.fund(LIQUIDITY, "1000000000000")

    def advance(self, event_ms: int) -> None:
        """Move engine time to ``event_ms`` (never back): funding for each hour crossed, triggers, liquidations.

        Each hour crossed settles after the oracles recorded before it are set, and before any stamped at it.
        """
        with self.engine.lock:
            for boundary in range((self.engine.now_ms // HOUR_MS + 1) * HOUR_MS, event_ms + 1, HOUR_MS):
                self._set_oracles(boundary - 1)
                self.engine.advance(boundary)
            self._set_oracles(event_ms)
            if event_ms > self.engine.now_ms:
                self.engine.advance(event_ms)

    def _set_oracles(self, until_ms: int) -> None:
        oracles = self._oracles
        while self._next_oracle < len(oracles) and oracles[self._next_oracle][0] <= until_ms:
            _, coin, px = oracles[self._next_oracle]
            self._next_oracle += 1
            self.recorded.add(coin)
            self.engine.set_oracle(coin, px)

    def mark(self, coin: str, px: float) -> None:
        """Set the coin's oracle (the price funding and margin refer to) to a bar's close, unless recorded ones set it."""
        if coin not in self.recorded:
            with self.engine.lock:
                self.engine.set_oracle(coin, px)

    def fill_at(self, coin: str, px: float) -> None:
        """Orders on ``coin`` fill at ``px`` until told otherwise."""
        self.fill_px[coin] = px


class SimulatedExecutor:
    """`Executor` for backtests: liquidity at the fill price, then the order through ``inner``; see the module."""

    def __init__(self, market: SimulatedMarket, inner: Executor, depth: RecordedDepth | None = None) -> None:
        self.market = market
        self.inner = inner
        self.depth = depth

    def _quote(self, order: LegOrder) -> list[tuple[int, int]]:
        market = self.market
        px = market.fill_px.get(order.coin)
        if px is None:
            return []
        asset = market.asset_of[order.coin]
        quote = market.rules.price(order.coin, px)
        request = OrderRequest(asset, not order.is_buy, Decimal(repr(quote)), Decimal(repr(order.sz)),
                               order_type=Limit(Tif.GTC))
        with market.engine.lock:
            (status,) = market.engine.place_orders(LIQUIDITY, [request])
        oid = getattr(status, "oid", None)
        return [] if oid is None else [(asset, oid)]

    def now_ms(self) -> int:
        """Return the engine's time (an order's expiry is stamped and checked on it)."""
        return self.inner.now_ms()

    def place(self, orders: Sequence[LegOrder], expires_after: int | None = None) -> list[Placement]:
        """Quote the other side of each order at its coin's fill price, place the orders, withdraw the rest.

        With recorded depth there is no quote: the order meets the recorded book as of its arrival.
        """
        if self.depth is not None:
            placed = []
            for order in orders:
                self.depth.arrive(self.market.engine.now_ms, order.cloid)
                placed += self.inner.place([order], expires_after)
            return placed
        quotes = [quote for order in orders for quote in self._quote(order)]
        try:
            return self.inner.place(orders, expires_after)
        finally:
            if quotes:
                with self.market.engine.lock:
                    self.market.engine.cancel(LIQUIDITY, quotes)

    def status(self, cloid: str) -> Placement:
        """Ask the engine for an order by cloid."""
        return self.inner.status(cloid)

    def cancel(self, orders: Sequence[tuple[str, str]]) -> list[bool]:
        """Cancel ``(coin, cloid)`` pairs."""
        return self.inner.cancel(orders)

    def schedule_cancel(self, at_ms: int | None) -> bool:
        """Arm the engine's dead-man switch."""
        return self.inner.schedule_cancel(at_ms)
