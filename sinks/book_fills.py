"""Fills against a recorded order book: book-walking takers, queue-position makers, order latency.

With recorded depth (``l2_snapshots`` and ``trades`` from ``pairflow collect``),
the backtest's engine holds the recorded market itself instead of a quote at a
bar price, so the venue's own matching decides every fill:

* `RecordedDepth` keeps each coin's engine book equal to the latest recorded
  snapshot, quoted by the `BOOK` account. A taker order walks those levels
  (book-walking: a size larger than the best level fills deeper, at worse prices).
* A resting order of ours joins its price level behind the recorded size there
  (price-time). `RecordedQueue` (a `venue.engine.QueueModel`) keeps the recorded
  size *ahead* of ours when a new snapshot re-quotes the level, and that size
  only shrinks: to the new level size when it is smaller (cancellations), or
  through trades. A recorded trade that reaches our price is replayed by the
  `TAPE` account as an IOC of the trade's size at the trade's price: it takes
  the recorded size ahead of us first, then ours.
* `AccountLatency` (a `venue.engine.LatencyModel`) stamps our orders and fills
  ``latency_ms`` late, and `RecordedDepth.catch_up` shows an order the book as
  recorded when it arrives, ``latency_ms`` after the decision.
* `RecordedDepth.move_to` applies what was recorded before each hour boundary
  before the engine crosses it (the venue settles an hour before its next
  step's prices); the recorded oracle prices are set by the market's ``advance``
  (`sinks.simulated.SimulatedMarket`), so hourly funding settles at the oracle
  the venue settled at.
* ``arrivals`` (cloid -> exchange time) replaces that latency, order by order,
  by the times a recorded session's orders reached the venue: its network and
  desk delays vary from order to order, and only the recorded times show each
  order the book it met and stamp its fills as the session's were.

The router follows a resting order by polling with a short sleep; in a
backtest that sleep is `RecordedDepth.wait`, which lets recorded time pass on
the market (trades may fill the order) and nothing else.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from operators.order_rules import AssetRules
from pairflow.events import BookSnapshot, Trade
from venue.engine import Engine, Limit, OrderRequest, Resting, Tif

__all__ = ["BOOK", "TAPE", "AccountLatency", "RecordedDepth", "RecordedQueue"]

BOOK = "0x" + "2" * 40
"""The account that rests the recorded book's levels."""
TAPE = "0x" + "3" * 40
"""The account that replays recorded trades as aggressive orders."""
_FUNDS = "1000000000000"
HOUR_MS = 3_600_000


class RecordedQueue:
    """`venue.engine.QueueModel`: recorded liquidity joins a level ahead of every order that is not recorded.

    Examples
    --------
    >>> from collections import deque
    >>> from types import SimpleNamespace as Order
    >>> level = deque([Order(user=BOOK, oid=1), Order(user="0xme", oid=2)])
    >>> RecordedQueue().enqueue(level, Order(user=BOOK, oid=3))
    >>> [order.oid for order in level]
    [1, 3, 2]
    """

    def __init__(self, recorded: str = BOOK) -> None:
        self.recorded = recorded

    def enqueue(self, level: deque, order: Any) -> None:
        """Append a non-recorded order; put a recorded one behind the recorded orders, ahead of the rest."""
        if order.user == self.recorded:
            for index, resting in enumerate(level):
                if resting.user != self.recorded:
                    level.insert(index, order)
                    return
        level.append(order)


class AccountLatency:
    """`venue.engine.LatencyModel`: ``latency_ms`` on one account's orders and fills, none on the recorded market's.

    Examples
    --------
    >>> latency = AccountLatency(25, "0xAB")
    >>> latency.order_latency_ms("0xab"), latency.order_latency_ms(TAPE)
    (25, 0)
    """

    def __init__(self, latency_ms: int, account: str) -> None:
        if latency_ms < 0:
            raise ValueError(f"latency must be 0 ms or more, was {latency_ms}")
        self.latency_ms = latency_ms
        self.account = account.lower()

    def order_latency_ms(self, user: str) -> int:
        """Return the latency of ``user``'s orders."""
        return self.latency_ms if user == self.account else 0


class RecordedDepth:
    """Drive an engine's books from recorded snapshots and trades, in time order; see the module docstring.

    ``advance(ms)`` moves engine time (the backtest's `SimulatedMarket.advance`, which also sets the recorded
    oracle prices); every snapshot and trade at or before the time given to `catch_up` is applied once; ``arrivals`` are recorded arrival times by cloid (see the module docstring).
    """

    def __init__(self, engine: Engine, rules: AssetRules, trader: str, books: Mapping[str, Sequence[BookSnapshot]],
                 trades: Mapping[str, Sequence[Trade]], advance: Callable[[int], None], latency_ms: int = 0,
                 arrivals: Mapping[str, int] | None = None) -> None:
        self.engine = engine
        self.rules = rules
        self.trader = trader.lower()
        self.latency_ms = latency_ms
        self.arrivals = arrivals or {}
        self.advance = advance
        self.asset_of = {spec.name: index for index, spec in enumerate(engine.assets)}
        streams = [[(event.ts, kind, event.coin, index, event) for index, event in enumerate(series)]
                   for kind, source in ((0, books), (1, trades)) for series in source.values()]
        self._events = list(heapq.merge(*streams, key=lambda item: item[:4]))
        self._next = 0
        self._quotes: dict[str, list[tuple[int, int]]] = {}
        self.now_ms = engine.now_ms
        for account in (BOOK, TAPE):
            engine.fund(account, _FUNDS)

    def catch_up(self, until_ms: int) -> None:
        """Apply every recorded snapshot and trade stamped at or before ``until_ms`` not applied yet."""
        events = self._events
        while self._next < len(events) and events[self._next][0] <= until_ms:
            _, kind, _, _, event = events[self._next]
            self._next += 1
            if kind == 0:
                self.show(event)
            else:
                self.tape(event)
        self.now_ms = max(self.now_ms, until_ms)

    def move_to(self, until_ms: int) -> None:
        """Apply the recording up to ``until_ms`` and move engine time there, settling each hour crossed on the way."""
        for boundary in range((self.engine.now_ms // HOUR_MS + 1) * HOUR_MS, until_ms + 1, HOUR_MS):
            self.catch_up(boundary - 1)
            self.advance(boundary)
        self.catch_up(until_ms)
        self.advance(until_ms)

    def arrive(self, decided_ms: int, cloid: str = "") -> None:
        """Show an order decided at ``decided_ms`` the book as recorded when it reaches the exchange.

        A cloid with a recorded arrival reaches it then, and engine time moves there so its fills are stamped then.
        """
        arrival = self.arrivals.get(cloid)
        if arrival is None:
            self.catch_up(decided_ms + self.latency_ms)
        else:
            self.move_to(arrival)

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` of recorded time pass on the market (the router's poll of a resting order)."""
        self.catch_up(self.now_ms + round(seconds * 1000))

    def show(self, snapshot: BookSnapshot) -> None:
        """Quote ``snapshot``'s levels as `BOOK`; at a price where we rest, keep at most the size that was ahead."""
        coin = snapshot.coin
        asset = self.asset_of.get(coin)
        if asset is None:
            return
        with self.engine.lock:
            ours, ahead = self._resting(coin)
            if self._quotes.get(coin):
                self.engine.cancel(BOOK, self._quotes.pop(coin))
            requests = []
            for is_buy, prices, sizes in ((True, snapshot.bid_px, snapshot.bid_sz),
                                          (False, snapshot.ask_px, snapshot.ask_sz)):
                for px, sz in zip(prices, sizes):
                    key = (is_buy, Decimal(repr(self.rules.price(coin, px))))
                    size = min(sz, ahead.get(key, 0.0)) if key in ours else sz
                    size = self.rules.size(coin, size)
                    if size > 0:
                        requests.append(OrderRequest(asset, is_buy, key[1], Decimal(repr(size)),
                                                     order_type=Limit(Tif.GTC)))
            statuses = self.engine.place_orders(BOOK, requests) if requests else []
            self._quotes[coin] = [(asset, status.oid) for status in statuses if type(status) is Resting]

    def tape(self, trade: Trade) -> None:
        """Replay a recorded trade that reaches one of our resting prices, as `TAPE`'s IOC at its price and size."""
        ours, _ = self._resting(trade.coin)
        buyer = trade.side == "B"
        reached = [px for is_buy, px in ours if is_buy != buyer and (px <= Decimal(repr(trade.px)) if buyer
                                                                      else px >= Decimal(repr(trade.px)))]
        if not reached:
            return
        self.advance(trade.ts)
        size = self.rules.size(trade.coin, trade.sz)
        if size <= 0:
            return
        request = OrderRequest(self.asset_of[trade.coin], buyer, Decimal(repr(self.rules.price(trade.coin, trade.px))),
                               Decimal(repr(size)), order_type=Limit(Tif.IOC))
        with self.engine.lock:
            self.engine.place_orders(TAPE, [request])

    def _resting(self, coin: str) -> tuple[set[tuple[bool, Decimal]], dict[tuple[bool, Decimal], float]]:
        """Return our resting (side, price) keys on ``coin`` and the recorded size resting at each of them."""
        with self.engine.lock:
            ours = {(o.is_buy, o.limit_px) for o in self.engine.open_orders(self.trader) if o.coin == coin}
            if not ours:
                return ours, {}
            ahead: dict[tuple[bool, Decimal], float] = {}
            for order in self.engine.open_orders(BOOK):
                key = (order.is_buy, order.limit_px)
                if order.coin == coin and key in ours:
                    ahead[key] = ahead.get(key, 0.0) + float(order.sz)
        return ours, ahead
