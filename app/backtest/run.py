"""One backtest: the recording replayed through the strategy and the desk onto the in-process venue engine.

The strategy objects (`operators.spread_strategy.SpreadStrategy`, one per
spread) and the trading desk (`sinks.desk.Desk`: netting, sizing, risk,
router, PnL ledger) are the ones the live stages hold; only the exchange
behind the router is simulated (`sinks.simulated`). They are driven here by
one loop over `sources.replay.replay` instead of a Bytewax dataflow, because
a replay must process each event-time step completely (market, then the
strategy's signals, then the desk's orders) before the next one: that order
is what makes a run deterministic and free of look-ahead, and a dataflow's
merged streams do not promise it.

Per step (all events stamped at one event time): the event-time clock and
the engine move to that time (the engine settles recorded funding for each
hour crossed, at the oracle recorded before the hour where the recording has
oracle prices, else at the last bar close); bars set fill prices (and the
oracle of a coin without recorded ones); the strategy reads the
events; the desk sees the market, then the signals, and trades them. With
``fill="next_open"`` a step's signals wait for the next bar of each of
their legs and fill at those bars' opens, at the step the last of them
closes (a funding-only step in between trades nothing); the desk's own exits
(stop-loss, time stop, the daily drawdown's flatten), decided at a bar too,
wait the same way.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from app.backtest.metrics import Metrics, compute_metrics
from app.backtest.session import SessionTiming
from operators.risk_checks import RiskLimits
from operators.spread_strategy import Skip, SpreadStrategy, pair_name
from pairflow.clock import EventClock
from pairflow.config import Settings, StrategySettings
from pairflow.events import Bar, Event, Fill, FundingPayment, Signal
from sinks.desk import Desk
from sinks.execution import OrderRouter, RouterConfig
from sinks.executor import HyperliquidExecutor
from sinks.book_fills import AccountLatency, RecordedDepth, RecordedQueue
from sinks.order_journal import OrderJournal
from sinks.simulated import FlatFees, RecordedFunding, SimulatedExecutor, SimulatedMarket
from sources.replay import HOUR_MS, Recording, replay
from venue.engine import Engine
from venue.inprocess import InProcessClient
from venue.universe import default_universe

__all__ = ["BacktestResult", "RoundTrip", "SignalSource", "StrategyFactory", "run_backtest", "trades_hash"]

DAY_MS = 86_400_000
TRADER = "0x" + "7" * 40
"""The simulated account the desk trades."""

FillMode = Literal["close", "next_open", "book"]


class SignalSource(Protocol):
    """One spread's decision path: events in, `Signal` (or `Skip`) out, like `SpreadStrategy`."""

    def update(self, event: Event) -> list[Signal | Skip]: ...


StrategyFactory = Callable[[tuple[str, ...], StrategySettings], SignalSource]


@dataclass(frozen=True)
class RoundTrip:
    """One spread position from entry to flat: times and its net PnL (fees and funding included).

    The PnL is kept in micro-USDC, the exchange's unit of money: the ledger's float arithmetic leaves
    noise below it (4e-13 on a trip that made nothing), which would count as a win.
    """

    pair: str
    opened_ms: int
    closed_ms: int
    pnl: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "pnl", round(self.pnl, 6))


@dataclass
class BacktestResult:
    """What a run produced: fills, funding, signals, round trips, equity curve, figures and the trades' hash."""

    spreads: list[str]
    start_ms: int
    end_ms: int
    capital: float
    fills: list[Fill] = field(default_factory=list)
    funding: list[FundingPayment] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    round_trips: list[RoundTrip] = field(default_factory=list)
    curve: list[tuple[int, float]] = field(default_factory=list)
    gross: list[tuple[int, float]] = field(default_factory=list)
    per_spread: dict[str, dict[str, float]] = field(default_factory=dict)
    pair_of: dict[str, str] = field(default_factory=dict)
    metrics: Metrics | None = None
    trades_hash: str = ""


def trades_hash(fills: Sequence[Fill], funding: Sequence[FundingPayment]) -> str:
    """Return a SHA-256 over every fill and funding payment (times, sides, prices, sizes, fees, amounts)."""
    lines = [f"F|{fill.ts}|{fill.coin}|{fill.side}|{fill.px!r}|{fill.sz!r}|{fill.fee!r}\n" for fill in fills]
    lines += [f"P|{payment.ts}|{payment.coin}|{payment.usdc!r}|{payment.rate!r}\n" for payment in funding]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


class _Books:
    """Cash, positions and marks from fills and funding: the equity curve and the attribution."""

    def __init__(self, capital: float) -> None:
        self.cash = capital
        self.positions: dict[str, float] = {}
        self.marks: dict[str, float] = {}
        self.decision_px: dict[str, float] = {}
        self.fees = self.funding = self.slippage = self.traded = 0.0

    def fill(self, fill: Fill) -> None:
        signed = fill.sz if fill.side == "B" else -fill.sz
        self.cash -= signed * fill.px + fill.fee
        self.positions[fill.coin] = round(self.positions.get(fill.coin, 0.0) + signed, 10)
        self.fees += fill.fee
        self.traded += fill.sz * fill.px
        reference = self.decision_px.get(fill.coin, fill.px)
        self.slippage += signed * (fill.px - reference)

    def pay(self, payment: FundingPayment) -> None:
        self.cash += payment.usdc
        self.funding += payment.usdc

    def equity(self) -> float:
        return self.cash + sum(sz * self.marks.get(coin, 0.0) for coin, sz in self.positions.items())

    def gross(self) -> float:
        return sum(abs(sz) * self.marks.get(coin, 0.0) for coin, sz in self.positions.items())

    def exposed(self) -> bool:
        return any(self.positions.values())


def _engine(recording: Recording, coins: list[str], taker_fee: float | None, fill: FillMode,
            latency_ms: int) -> Engine:
    universe = default_universe().subset(coins)
    rates = {(rate.coin, rate.ts): rate.rate for rate in recording.funding}
    fees = None if taker_fee is None else FlatFees(taker_fee, 0.0)
    return Engine(universe.specs, now_ms=recording.start_ms, fee_model=fees, funding_model=RecordedFunding(rates),
                  latency_model=AccountLatency(latency_ms, TRADER) if latency_ms else None,
                  queue_model=RecordedQueue() if fill == "book" else None)


def run_backtest(settings: Settings, recording: Recording, spreads: Sequence[tuple[str, ...]], *,
                 fill: FillMode = "close", taker_fee: float | None = None, latency_ms: int = 0,
                 progress: Callable[[int], None] | None = None,
                 strategy_factory: StrategyFactory = SpreadStrategy,
                 session: SessionTiming | None = None) -> BacktestResult:
    """Replay ``recording`` through the strategy and desk for ``spreads``; see the module docstring.

    ``fill="book"`` fills against the recording's books and trades (`sinks.book_fills`);
    ``latency_ms`` delays our orders: they meet the book as recorded that much later, and
    their fills are stamped then (on bar fills only the stamp moves: a bar has no later price);
    ``taker_fee`` fixes the fee rate (else the venue's fee schedule);
    ``progress`` is called with the number of steps done now and then;
    ``strategy_factory(legs, settings)`` builds each spread's decision path
    (another signal mode, or a scripted one in tests);
    ``session`` (a recorded session's `app.backtest.session.SessionTiming`, with its signals) sends each
    spread's legs in the session's order and, with book fills, has each order reach the book when the
    session's did.
    """
    coins = sorted({coin for legs in spreads for coin in legs})
    capital = settings.execution.capital_usd
    engine = _engine(recording, coins, taker_fee, fill, latency_ms)
    client = InProcessClient(engine, TRADER)
    engine.fund(TRADER, repr(capital))
    inner = HyperliquidExecutor(client, TRADER)  # type: ignore[arg-type]
    market = SimulatedMarket(engine, inner.rules, capital, recording.oracles)
    depth = RecordedDepth(engine, inner.rules, TRADER, recording.books, recording.trades, market.advance, latency_ms,
                          session.arrived if session else None) if fill == "book" else None
    clock = EventClock(recording.start_ms)
    strategies = {pair_name(legs): strategy_factory(tuple(legs), settings.strategy) for legs in spreads}
    by_coin: dict[str, list[SignalSource]] = {}
    for legs in spreads:
        for coin in legs:
            by_coin.setdefault(coin, []).append(strategies[pair_name(legs)])
    result = BacktestResult(list(strategies), recording.start_ms, recording.end_ms, capital)
    books = _Books(capital)
    with tempfile.TemporaryDirectory(prefix="pairflow-backtest-") as tmp:
        journal = OrderJournal(Path(tmp) / "cloids")
        router = OrderRouter(SimulatedExecutor(market, inner, depth), inner.rules, journal,
                             limits=RiskLimits.from_settings(settings.execution),
                             config=RouterConfig.from_settings(settings.execution),
                             clock=clock, sleep=depth.wait if depth is not None else lambda seconds: None)
        # The desk pulls fills after each trade itself; funding is pulled here when an hour settled (below),
        # so its timed REST pull is off: pulls then depend on event time only, never on the wall clock.
        # Its VaR rows are monitoring output a backtest does not keep (no VaR limit is set here), so they
        # are computed once a day instead of every bar: a quarter of the run time, no trade changes.
        desk = Desk(router, inner, inner.rules, capital=capital, clock=clock, reconcile_interval_s=math.inf,
                    bar_interval=settings.strategy.bar_interval, risk_every_ms=DAY_MS, risk_at_change=False,
                    leg_order=session.sent if session else None, defer_exits=fill == "next_open")
        _collect(desk.reconcile(), result, books)
        pending: list[tuple[Signal, dict[str, float]]] = []
        opened: dict[str, tuple[int, float]] = {}
        last_ms, exposed_ms = recording.start_ms, 0
        for step, (event_ms, events) in enumerate(replay(recording), 1):
            clock.observe(event_ms)
            settled = event_ms // HOUR_MS > market.engine.now_ms // HOUR_MS
            if depth is not None:
                depth.move_to(event_ms)
            else:
                market.advance(event_ms)
            if settled and books.exposed():
                _collect(desk.pull(), result, books)
            if books.exposed():
                exposed_ms += event_ms - last_ms
            last_ms = event_ms
            bars = [event for event in events if type(event) is Bar]
            if pending:
                pending = _trade_opened(pending, bars, market, desk, result, books, opened, event_ms)
            for bar in bars:
                market.mark(bar.coin, bar.close)
                books.marks[bar.coin] = books.decision_px[bar.coin] = bar.close
                if fill == "close":
                    market.fill_at(bar.coin, bar.close)
            signals = [out for event in events for strategy in by_coin.get(event.coin, ())  # type: ignore[union-attr]
                       for out in strategy.update(event) if type(out) is not Skip]
            _collect(desk.on_events(list(events)), result, books)
            result.signals += signals  # type: ignore[arg-type]
            if fill == "next_open":
                pending += [(signal, {}) for signal in [*signals, *desk.exits]]  # type: ignore[misc]
                desk.exits.clear()
            else:
                _trade(desk, signals, result, books, opened, event_ms)  # type: ignore[arg-type]
            result.curve.append((event_ms, books.equity()))
            result.gross.append((event_ms, books.gross()))
            if progress is not None and step % 500 == 0:
                progress(step)
        _collect(desk.pull(), result, books)
        journal.close()
    if result.curve:
        result.curve[-1] = (result.curve[-1][0], books.equity())
    for pair, (opened_ms, start_pnl) in opened.items():
        result.round_trips.append(RoundTrip(pair, opened_ms, last_ms, _spread_pnl(desk, pair) - start_pnl))
    result.per_spread = {pair: _spread_stats(desk, pair, result.round_trips) for pair in strategies}
    result.trades_hash = trades_hash(result.fills, result.funding)
    result.metrics = compute_metrics(result.curve, capital, [trip.pnl for trip in result.round_trips], books.traded,
                                     exposed_ms, fees=books.fees, funding=books.funding, slippage=books.slippage)
    return result


def _trade(desk: Desk, signals: list[Signal], result: BacktestResult, books: _Books,
           opened: dict[str, tuple[int, float]], event_ms: int) -> None:
    for signal in signals:
        before, pnl_before = desk.acted.get(signal.pair, 0.0), _spread_pnl(desk, signal.pair)
        _collect(desk.on_events([signal]), result, books)
        after = desk.acted.get(signal.pair, 0.0)
        if before and (not after or before * after < 0) and signal.pair in opened:
            # A reversal's closing fills and its new entry's come together: the trip ends at the old level.
            opened_ms, start_pnl = opened.pop(signal.pair)
            end_pnl = _spread_pnl(desk, signal.pair) if not after else pnl_before
            result.round_trips.append(RoundTrip(signal.pair, opened_ms, event_ms, end_pnl - start_pnl))
        if after and signal.pair not in opened:
            opened[signal.pair] = (event_ms, pnl_before)


def _trade_opened(pending: list[tuple[Signal, dict[str, float]]], bars: list[Bar], market: SimulatedMarket,
                  desk: Desk, result: BacktestResult, books: _Books, opened: dict[str, tuple[int, float]],
                  event_ms: int) -> list[tuple[Signal, dict[str, float]]]:
    """Trade each pending next-open signal once every leg has had a bar since its decision; return the rest.

    A step without a leg's bar (a funding record stamped after the hour, a coin's missing bar) has no open
    for that leg: trading there would fill at a price set for another order. So each leg keeps the open of
    its first bar after the decision, and the signal fills at those opens at the step its last leg's bar
    closes: no price is used before that bar is known.
    """
    opens = {bar.coin: bar.open for bar in bars}
    waiting = []
    for signal, first in pending:
        for coin in signal.legs:
            if coin in opens:
                first.setdefault(coin, opens[coin])
        if len(first) < len(set(signal.legs)):
            waiting.append((signal, first))
            continue
        for coin, px in first.items():
            market.fill_at(coin, px)
        _trade(desk, [signal], result, books, opened, event_ms)
    return waiting


def _collect(events: list[Event], result: BacktestResult, books: _Books) -> None:
    for event in events:
        kind = type(event)
        if kind is Fill:
            result.fills.append(event)  # type: ignore[arg-type]
            books.fill(event)  # type: ignore[arg-type]
        elif kind is FundingPayment:
            result.funding.append(event)  # type: ignore[arg-type]
            books.pay(event)  # type: ignore[arg-type]
        elif getattr(event, "pair", "") and getattr(event, "signal_id", None) is not None:
            result.pair_of[event.id] = event.pair  # type: ignore[attr-defined]


def _spread_pnl(desk: Desk, pair: str) -> float:
    legs = desk.ledger.spreads.get(pair, {})
    return sum(b.realized - b.fees + b.funding + b.unrealized(desk.marks.get(c)) for c, b in legs.items())


def _spread_stats(desk: Desk, pair: str, trips: list[RoundTrip]) -> dict[str, float]:
    legs = desk.ledger.spreads.get(pair, {}).values()
    mine = [trip.pnl for trip in trips if trip.pair == pair]
    return {"pnl": _spread_pnl(desk, pair), "fees": sum(b.fees for b in legs), "funding": sum(b.funding for b in legs),
            "round_trips": float(len(mine)), "wins": float(sum(1 for pnl in mine if pnl > 0))}
