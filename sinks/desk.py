"""The trading desk: signals and market data in; intents, orders, fills, PnL, risk and alerts out.

It joins the pure parts (netting, sizing, PnL ledger, portfolio risk, the
in-position stops, reconciliation) to the order router and the account's
REST view, so the execution stage only wires it into a dataflow. What it
holds falls in two parts: the pure state (`snapshot` / `restore`), and the
router and executor (a connection, a journal on disk), which are rebuilt at
start and never snapshotted.

The account's fills, order updates and funding payments come over the user
stream (WebSocket) when one is given: each (re)connection is reconciled over
REST, and a trade waits for its fills to arrive on the stream before the next
decision, so positions are never read stale. REST is the fallback: polled every
``reconcile_interval_s`` while the stream is down (or absent, as in a
backtest), and pulled when a trade's fills are late. Fills are idempotent by
trade id, so one delivered by both paths counts once.

Entries are blocked while reconciliation finds the account different from
our books or holding what fills of no order of ours left (a manual trade on
the same account; cleared once undone or the coin is flat again; an exit meanwhile closes only what
the spreads hold and leaves that trade to the operator), after the daily drawdown stop, and once the kill file appears
(`pairflow kill`): then every position is flattened with reduce-only orders
and no order but a closing one is sent again. The operator's controls
(`pairflow.control.Control`, from the API) pause entries, request a flatten,
or halt: while halted no order at all goes out, exits and stops included,
until resumed; only a flatten request still closes positions.
"""

from __future__ import annotations

import math
import pickle
import time
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Protocol

import msgspec

from operators.netting import NetTargets, SpreadTarget, order_to_target, size_spread
from operators.order_rules import AssetRules
from operators.orders import CLOCK_SKEW_MS, cloid_for, may_resend
from operators.pnl_ledger import Cross, PnlLedger
from operators.portfolio_risk import PortfolioRisk
from operators.reconcile import mismatches
from pairflow.hyperliquid.user_parse import fills_from_wire, funding_from_wire, open_orders_from_wire, positions_from_wire
from operators.risk_checks import PreTrade, in_position
from operators.trading_costs import leg_cost
from pairflow.clock import WALL_CLOCK, Clock
from pairflow.control import Control
from pairflow.events import (
    Alert, AssetContext, Bar, BookSnapshot, Disconnected, Event, FeeSchedule, Fill, Funding, FundingPayment, Order,
    OrderIntent, Pnl, Position, Reconnected, RiskMetric, Signal,
)
from pairflow.hyperliquid.client import HyperliquidError
from pairflow.logs import get_logger
from pairflow.metrics import (
    EXECUTION_RECONCILIATION_MISMATCHES, RISK_DRAWDOWN_LIMIT_RATIO, RISK_DRAWDOWN_RATIO, RISK_VAR_LIMIT_USD, RISK_VAR_USD,
)
from sinks.execution import LegPlan, OrderRouter
from sinks.executor import OrderStateUnknown
from sinks.spread_journal import FLATTEN, SpreadChange, SpreadJournal

__all__ = ["AccountStream", "AccountView", "Desk", "KILL_FILE"]

_log = get_logger(__name__)
KILL_FILE = "KILL"
"""Name of the file in the trader's data directory that `pairflow kill` creates."""


class AccountView(Protocol):
    """The account as the exchange reports it (raw ``/info`` answers)."""

    def open_orders(self) -> Any: ...

    def clearinghouse(self) -> Any: ...

    def fills_since(self, start_ms: int) -> Any: ...

    def funding_since(self, start_ms: int) -> Any: ...


class AccountStream(Protocol):
    """The account's user stream: `Reconnected`, `Disconnected`, `Fill`, `FundingPayment` and `Order` events."""

    def drain(self) -> list[Any]: ...

    def wait(self, timeout_s: float) -> list[Any]: ...

    def close(self, timeout_s: float = 5.0) -> None: ...


class Desk:
    """See the module docstring; `on_events` and `reconcile` return the events to store and publish.

    ``risk_every_ms`` spaces the exposure and VaR rows (a minute live; a backtest, which keeps none
    of them, asks for them once a day); ``risk_at_change`` also has one at the first bar after what is
    held changed (live, so a position's VaR is known from its start; not in a backtest). With ``spread_journal`` every spread change is written
    there before its orders go out, so a restart can take the spreads over (`adopt`). ``leg_order``
    (cloid -> when a recorded session sent it) makes a replay of that session send each spread's
    legs in the session's order: the session ranked them by the books its desk had seen by then,
    which the recording does not tell. With ``defer_exits`` the desk's own exits (a stop, the daily
    drawdown's flatten) are decided as now but not sent: each goes to ``exits`` as a zero-target `Signal`
    for the caller to hand back through `on_events` when it can fill, as a next-open backtest does with
    the strategy's signals (the decision is at a bar's close, so the fill can only be at a later bar).
    """

    def __init__(self, router: OrderRouter, account: AccountView, rules: AssetRules, *, capital: float,
                 control_dir: Path | None = None, clock: Clock = WALL_CLOCK, reconcile_interval_s: float = 5.0,
                 bar_interval: str = "1s", max_var_99: float = 0.0, risk_every_ms: int = 60_000,
                 risk_at_change: bool = True, control: Control | None = None, stream: AccountStream | None = None,
                 fill_wait_s: float = 2.0, spread_journal: SpreadJournal | None = None,
                 leg_order: Mapping[str, int] | None = None, defer_exits: bool = False) -> None:
        self.router = router
        self.defer_exits = defer_exits
        self.exits: list[Signal] = []
        self.leg_order = leg_order
        self.spread_journal = spread_journal
        self.account = account
        self.rules = rules
        self.clock = clock
        self.control_dir = control_dir
        self.reconcile_interval_s = reconcile_interval_s
        self.max_var_99 = max_var_99
        self._var_breached = False
        self.net = NetTargets()
        self.ledger = PnlLedger()
        self.risk = PortfolioRisk(capital=capital, window=300, interval_label=bar_interval, every_ms=risk_every_ms,
                                  at_change=risk_at_change)
        self.marks: dict[str, float] = {}
        self.seen_ms: dict[str, int] = {}
        self.funding_rates: dict[str, float] = {}
        self.books: dict[str, BookSnapshot] = {}
        self.acted: dict[str, float] = {}
        self.opened_ms: dict[str, int] = {}
        self.outside: dict[str, float] = {}
        self.last_fill_ms = 0
        self.last_funding_ms = 0
        self.day_start_equity = 0.0
        self.blocked = ""
        self.halted = ""
        self.unreachable = ""
        self._alerted = False
        self._last_pull = 0.0
        self.control = control
        self.stream = stream
        self.stream_live = False
        self.fill_wait_s = fill_wait_s
        self._peak_equity = capital
        self._adopted: dict[str, float] = {}
        self._adopted_intents: list[OrderIntent] = []
        self._adopted_crosses: list[Cross] = []
        self._taking_over = False
        self._journaled_ms: dict[str, int] = {}
        self._unfinished: SpreadChange | None = None
        self._recheck = False
        if router.limits.daily_drawdown:
            RISK_DRAWDOWN_LIMIT_RATIO.set(router.limits.daily_drawdown / capital)
        if max_var_99:
            RISK_VAR_LIMIT_USD.set(max_var_99)
        self._flattens_seen = control.state().flatten_requests if control is not None else 0

    # ---- state ------------------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Return the pure state (targets, ledgers, marks, flags) as pickled bytes."""
        return pickle.dumps((self.net.snapshot(), self.ledger.snapshot(), self.risk.snapshot(), self.acted,
                             self.opened_ms, self.outside, self.last_fill_ms, self.last_funding_ms, self.halted))

    def restore(self, state: bytes) -> None:
        """Load `snapshot` output into this desk (its router and account stay)."""
        (net, ledger, risk, self.acted, self.opened_ms, self.outside, self.last_fill_ms, self.last_funding_ms,
         self.halted) = pickle.loads(state)
        self.net, self.ledger, self.risk = NetTargets.restore(net), PnlLedger.restore(ledger), PortfolioRisk.restore(risk)

    def adopt(self, intents: list[OrderIntent], targets: dict[str, float], last: SpreadChange | None = None,
              crosses: list[Cross] | None = None) -> None:
        """Take over the spreads a previous run of this account left open (restart, with or without a snapshot).

        ``intents`` are that run's journaled intents (cloid -> spread) and ``targets`` each spread's last
        acted target. The spread legs themselves are not taken from storage: the next reconciliation
        pulls the account's fills from the exchange, attributes them through the intents, and sets
        each spread's net target from what its legs hold -- so a replayed signal is a no-op and an
        exit closes exactly what the spread holds. Nothing is applied before that reconciliation:
        the execution stage restores its recovery snapshot after building the desk, which would
        replace the intents taken here. ``last`` (the journal's last change) may have been cut
        between its legs; `_resume` runs it again once its legs have marks. A signal no newer than a
        spread's last journaled change is one the source replays (it resumes from a snapshot's or the
        group's offsets): the journal already holds its effect, so `_signal` passes it by. ``crosses``
        are the flattens' crosses of offsetting legs, which no fill shows: the take-over's pull
        applies each among the fills where it was made (`_cross_adopted`), or its legs would be
        open again and a later exit of their spread would send a real order.
        """
        self._adopted_intents = sorted(intents, key=lambda intent: intent.ts)
        self._adopted_crosses = sorted(crosses or [], key=lambda cross: cross.after_fill_ms)
        self._adopted = dict(targets)
        self._journaled_ms = {intent.pair: intent.ts for intent in self._adopted_intents}
        self._unfinished = last
        self._taking_over = True

    def _take_over_spreads(self) -> None:
        """Set each journaled spread's legs, target and age from the journal and the exchange's fills.

        A flat spread too: a restored snapshot may predate its exit, and would keep it entered.
        """
        for pair, target in self._adopted.items():
            legs = self.ledger.spreads.get(pair, {})
            held = tuple(book.szi for book in legs.values())
            self.net.update(SpreadTarget(pair, f"adopted:{pair}", self._journaled_ms.get(pair, 0), tuple(legs), held))
            self.acted[pair] = target
            if any(held):
                self.opened_ms.setdefault(pair, self._journaled_ms.get(pair, 0))
            else:
                self.opened_ms.pop(pair, None)
        self._adopted, self._adopted_intents, self._adopted_crosses, self._taking_over = {}, [], [], False
        change = self._unfinished
        # the router journals no cloid for a change it refused whole: nothing of it went out
        if change is not None and not any(intent.id in self.router.journal.sent for intent in change.intents):
            self._unfinished = None

    def _cross_adopted(self, before_ms: float) -> list[Event]:
        """Apply the journal's crosses made on the fills stamped before ``before_ms``; return their `Pnl`.

        A cross was made once the fills up to its ``after_fill_ms`` were counted: applied at that
        point, its legs' average costs are the ones the killed desk crossed. The ledger applies each
        once, so the crosses a restored snapshot already holds change nothing.
        """
        out: list[Event] = []
        while self._adopted_crosses and self._adopted_crosses[0].after_fill_ms < before_ms:
            out += self.ledger.cross(self._adopted_crosses.pop(0))
        return out

    def _unsent(self, change: SpreadChange) -> list[str]:
        """Return the cloids of ``change`` the exchange never received and never will; forget the journaled ones.

        A journaled cloid was written before its send, so a kill between the two leaves one the
        exchange never saw -- or one still on its way. Asked by cloid, the exchange answers
        ``unknownOid`` to both, so that answer counts only once the order's journaled expiry has
        passed (`operators.orders.may_resend`). Asked earlier, the desk waits for that time and asks
        again: at most ``[execution] order_lifetime_s`` and a second, once per restart, and nothing
        else of the account is decided meanwhile (a newer change of the spread, sized before a late
        leg landed, would leave that leg unhedged). No answer counts as received (never a blind
        resend), and so does an expiry further ahead than an order's lifetime (the host's clock went
        back since: waiting for it could take hours). The journal forgets the cloids that may go out,
        so the router sends them.
        """
        journal, executor = self.router.journal, self.router.executor
        longest_ms = round(self.router.config.order_lifetime_s * 1000) + CLOCK_SKEW_MS + 1
        while True:
            unsent, ask_at_ms = [], 0
            for intent in change.intents:
                if intent.id not in journal.sent:
                    unsent.append(intent.id)
                    continue
                asked_ms = executor.now_ms()
                try:
                    answer: str | None = executor.status(intent.id).status
                except OrderStateUnknown:
                    answer = None
                decision = may_resend(answer, journal.expires.get(intent.id), asked_ms)
                if decision.verdict == "wait" and decision.ask_at_ms - asked_ms > longest_ms:
                    _log.warning("journaled order expires further ahead than an order's lifetime (the host clock "
                                 "went back?): not sent again", extra={"cloid": intent.id,
                                                                       "ask_at_ms": decision.ask_at_ms})
                elif decision.verdict == "wait":
                    ask_at_ms = max(ask_at_ms, decision.ask_at_ms)
                elif decision.verdict == "send":
                    unsent.append(intent.id)
            if not ask_at_ms:
                break
            _log.info("interrupted spread change waits for its orders' expiry before sending any again",
                      extra={"pair": change.pair, "ask_again_ms": ask_at_ms})
            time.sleep(max(0.0, (ask_at_ms - executor.now_ms()) / 1000))
        for cloid in unsent:
            journal.forget(cloid)
        return unsent

    def _resume(self) -> list[Event]:
        """Run the journal's last change again if a kill cut it between its legs, once its legs have marks.

        Under its own signal id, so its legs keep their cloids: the ones sent are skipped by the
        router, the others go out. An entry waits out a halt and is dropped while entries are
        blocked (the spread's exit or a stop still closes what its sent legs hold); a newer change
        of the spread supersedes it (`_trade`).
        """
        change = self._unfinished
        if change is None or change.spread is None or any(coin not in self.marks for coin in change.spread.coins):
            return []
        if change.pair == FLATTEN:  # a flatten goes out whatever the controls say, as it did when asked
            self._unfinished = None
            if not self._unsent(change):
                return []
            _log.info("running an interrupted flatten again", extra={"signal_id": change.spread.signal_id})
            self._zero_spreads(change.spread.signal_id, change.spread.ts)  # the take-over set them to the legs held
            return self._close_all(change.spread.signal_id, change.spread.ts)
        controls = self.control.state() if self.control is not None else None
        if controls is not None and controls.halted:
            return []
        spread = change.spread
        if change.target and (self.halted or self.blocked or (controls is not None and controls.entries_paused)):
            self._unfinished = None
            _log.warning("interrupted entry not completed: entries blocked", extra={"pair": change.pair})
            return []
        if not self._unsent(change):  # every leg reached the exchange: the change was not cut
            self._unfinished = None
            return []
        _log.info("running an interrupted spread change again", extra={"pair": change.pair,
                                                                       "signal_id": spread.signal_id})
        return self._trade(change.pair, spread.signal_id, spread.ts, spread.coins, spread.sizes, change.target)

    def position(self, coin: str) -> float:
        """Return our position in ``coin`` from the fills counted so far."""
        book = self.ledger.coins.get(coin)
        return book.szi if book else 0.0

    # ---- events -----------------------------------------------------------------------------------

    def on_events(self, events: list[Event], ordered: bool = False) -> list[Event]:
        """Apply a batch of signals and market events; return every event the desk produced.

        The batch is taken in event-time order, market data before a signal of the same ms. Given
        ``ordered`` events (a time-ordered source read in record order: `run execution`) it is taken
        as it comes instead: a sort per batch moves a record differently depending on where the batches
        were cut, which differs between two runs over the same topics, and so would the orders.
        """
        return self._stamped(self._batch(events if ordered else sorted(events, key=_market_first), ordered))

    def _stamped(self, out: list[Event]) -> list[Event]:
        """Give the records made here (PnL, risk, alerts, positions) the desk clock's time as ``recv_ts``.

        Every record the desk hands out passes here, so the risk gauges are set here too: drawdown
        from the portfolio's equity peak and each VaR method's figure.
        """
        now = self.clock.now_ms()
        for event in out:
            if isinstance(event, Pnl) and event.scope == "portfolio":
                equity = self.risk.capital + event.equity
                self._peak_equity = max(self._peak_equity, equity)
                RISK_DRAWDOWN_RATIO.labels(scope="portfolio").set(1.0 - equity / self._peak_equity)
            elif isinstance(event, RiskMetric) and event.metric.startswith("var_"):
                RISK_VAR_USD.labels(method=event.metric.removeprefix("var_"),
                                    confidence=f"{event.confidence:g}").set(event.value)
        return [event if event.recv_ts else msgspec.structs.replace(event, recv_ts=now) for event in out]

    def _batch(self, events: list[Event], ordered: bool = False) -> list[Event]:
        out: list[Event] = self._from_stream(self.stream.drain()) if self.stream is not None else []
        if self.halted and self.control is not None and not self.control.state().entries_paused:
            self.halted = ""  # the operator resumed after a kill or the drawdown stop (a kill file left kills again)
        if self._recheck:  # before the signals: an entry in this batch must see the block
            out += self._reconcile()
        for event in events:
            if isinstance(event, Signal):
                out += self._resume() + self._signal(event)
                continue
            if ordered and self.opened_ms and event.ts > max(self.seen_ms.values(), default=event.ts):
                out += self._stops()  # the data's time is about to pass its newest ms: the stops judge that ms
            out += self._market(event)
        out += self._resume() + self._controls(stops=not ordered)
        polling = self.unreachable or not self.stream_live
        if polling and time.monotonic() - self._last_pull >= self.reconcile_interval_s:
            out += self._reconcile() if self.unreachable else self.pull()
        try:
            self.router.heartbeat()
        except HyperliquidError as error:
            out += self._lost(error)
        return out

    def _lost(self, error: HyperliquidError) -> list[Event]:
        """The exchange did not answer: block entries until a reconciliation succeeds; alert once."""
        self.unreachable = self.blocked = f"exchange unreachable: {error}"
        if self._alerted:
            return []
        self._alerted = True
        now = self.clock.now_ms()
        return [Alert(ts=now, id=f"unreachable@{now}", severity="critical", source="execution", message=self.blocked)]

    def _market(self, event: Event) -> list[Event]:
        if isinstance(event, Bar):
            self.marks[event.coin] = event.close
            self.seen_ms[event.coin] = max(self.seen_ms.get(event.coin, 0), event.ts)
            metrics = self.risk.update(event)
            return [*self.ledger.update(event), *metrics, *self._var_alert(metrics)]
        if isinstance(event, BookSnapshot) and event.mid is not None:
            self.marks[event.coin] = event.mid
            self.books[event.coin] = event
            self.seen_ms[event.coin] = max(self.seen_ms.get(event.coin, 0), event.ts)
        elif isinstance(event, FeeSchedule):
            self.router.fees = (event.maker, event.taker)
        elif isinstance(event, AssetContext):
            self.funding_rates[event.coin] = event.funding
        elif isinstance(event, Funding):
            self.funding_rates[event.coin] = event.rate
        return []

    def _var_alert(self, metrics: list[RiskMetric]) -> list[Alert]:
        """Alert when the 99% historical VaR crosses ``max_var_99`` (once per crossing, and once when back)."""
        var = next((m for m in metrics if m.metric == "var_hist" and m.confidence == 0.99), None)
        if var is None or not self.max_var_99 or (var.value > self.max_var_99) == self._var_breached:
            return []
        self._var_breached = not self._var_breached
        verb = "exceeds" if self._var_breached else "is back under"
        return [Alert(ts=var.ts, id=f"var@{var.ts}", severity="warning" if self._var_breached else "info",
                      source="risk", message=f"99% VaR {var.value:,.2f} USD ({var.horizon}) {verb} "
                                             f"the {self.max_var_99:,.2f} USD limit")]

    def _context(self) -> PreTrade:
        positions = {coin: book.szi for coin, book in self.ledger.coins.items()}
        pnl = self._portfolio_equity()
        return PreTrade(now_ms=max(self.seen_ms.values(), default=self.clock.now_ms()), positions=positions,
                        marks=self.marks, equity=self.risk.capital + pnl, last_data_ms=self.seen_ms,
                        funding_rates=self.funding_rates)

    def _portfolio_equity(self) -> float:
        books = list(self.ledger.coins.items())
        return sum(b.realized - b.fees + b.funding + b.unrealized(self.marks.get(c)) for c, b in books)

    def _signal(self, signal: Signal) -> list[Event]:
        if not signal.legs or len(signal.leg_targets) != len(signal.legs):
            return []
        if signal.ts <= self._journaled_ms.get(signal.pair, -1):
            return []  # replayed: the journal's later change holds its effect (`adopt`)
        previous = self.acted.get(signal.pair, 0.0)
        if signal.target == previous:
            return []
        controls = self.control.state() if self.control is not None else None
        if controls is not None and controls.halted:
            return [self._refused(signal, "orders_blocked: halted by the operator (flatten closes positions)")]
        entering = abs(signal.target) > abs(previous) or signal.target * previous < 0
        reason = self.halted or self.blocked
        if not reason and controls is not None and controls.entries_paused:
            reason = controls.pause_reason or "paused by the operator"
        if entering and reason:
            return [self._refused(signal, f"entries_blocked: {reason}")]
        if any(coin not in self.marks for coin in signal.legs):
            return [self._refused(signal, "stale_data: no mark yet for " + ", ".join(
                coin for coin in signal.legs if coin not in self.marks))]
        sizes, reason = size_spread(signal.legs, signal.leg_targets, self.marks, self.rules)
        if reason:
            return [self._refused(signal, reason)]
        return self._trade(signal.pair, signal.id, signal.ts, signal.legs, sizes, signal.target)

    def _refused(self, signal: Signal, reason: str) -> Alert:
        _log.info("signal not traded", extra={"pair": signal.pair, "reason": reason})
        return Alert(ts=signal.ts, id=f"refused:{signal.id}", severity="info", source="execution",
                     message=f"{signal.pair}: {reason}")

    def _trade(self, pair: str, signal_id: str, ts: int, coins: tuple[str, ...], sizes: tuple[float, ...],
               target: float) -> list[Event]:
        out: list[Event] = []
        plans = []
        if self._unfinished is not None and self._unfinished.pair == pair:
            self._unfinished = None  # this change supersedes it (or is it, run again)
        spread = SpreadTarget(pair, signal_id, ts, coins, sizes)
        for coin_target in self.net.update(spread):
            coin = coin_target.coin
            # A manual trade on the coin (``outside``) is not ours to close: the operator undoes it.
            delta, reducing = order_to_target(coin_target.target, self.position(coin), self.outside.get(coin, 0.0))
            if self.rules.size(coin, delta) == 0:
                continue
            book = self.books.get(coin)
            plan = LegPlan(coin, delta, self.marks[coin], signal_id, pair, reduce_only=reducing,
                           liquidity=_top_depth(book), urgent=not target,
                           cost=leg_cost(book, abs(delta) * self.marks[coin]) if book else None)
            plans.append(plan)
            cloid = cloid_for(signal_id, coin)
            intent = OrderIntent(ts=ts, id=cloid, coin=coin, pair=pair, signal_id=signal_id, is_buy=delta > 0,
                                 sz=abs(delta), limit_px=self.marks[coin], tif=self.router.tif_for(plan),
                                 reduce_only=reducing)
            self.ledger.update(intent)
            out.append(intent)
        self.acted[pair] = target
        if target and pair not in self.opened_ms:
            self.opened_ms[pair] = ts
        elif not target:
            self.opened_ms.pop(pair, None)
        if plans and self.leg_order and all(cloid_for(plan.signal_id, plan.coin) in self.leg_order for plan in plans):
            plans = [msgspec.structs.replace(plan, liquidity=float(self.leg_order[cloid_for(plan.signal_id, plan.coin)]))
                     for plan in plans]
        if plans:
            if self.spread_journal is not None:
                self.spread_journal.record(pair, target, [event for event in out if isinstance(event, OrderIntent)],
                                           spread)
            out += self._settle(self.router.execute(plans, self._context()))
        return out

    # ---- stops, kill, reconciliation --------------------------------------------------------------

    def _controls(self, stops: bool = True) -> list[Event]:
        """The operator's kill file and flatten requests, then (``stops``) the spreads' stops."""
        out: list[Event] = []
        if not self.halted and self.control_dir is not None and (self.control_dir / KILL_FILE).exists():
            out += self.flatten("killed by `pairflow kill`")
        if self.control is not None and self.control.state().flatten_requests > self._flattens_seen:
            self._flattens_seen = self.control.state().flatten_requests
            out += self.flatten("flattened by the operator")
            self.halted = ""  # the control keeps entries paused (or halted) until the operator resumes
        return out + self._stops() if stops else out

    def _stops(self) -> list[Event]:
        """Close each spread whose stop is reached at the newest event time seen (the daily drawdown flattens).

        Called at the end of each batch, or (`on_events` ``ordered``) each time the data's event time
        is about to advance: then a stop fires at the first ms past its limit, whatever the batch
        cuts, and the exit's id, size and price are a function of the records (and the fills).
        """
        out: list[Event] = []
        if self.control is not None and self.control.state().halted:
            return out  # a stop is an order too: a halted desk waits for the operator's flatten or resume
        if not self.opened_ms:
            return out  # nothing held, no stop to check: the day's PnL is not needed (a backtest asks every bar)
        now = max(self.seen_ms.values(), default=0)
        day_pnl = self._portfolio_equity() - self.day_start_equity
        for pair in list(self.opened_ms):
            scope = self.ledger.spreads.get(pair, {})
            spread_pnl = sum(b.realized - b.fees + b.funding + b.unrealized(self.marks.get(c)) for c, b in scope.items())
            reason = in_position(spread_pnl, self.opened_ms[pair], now, day_pnl, self.router.limits)
            if reason.startswith("daily_drawdown") and not self.halted:
                out += self.flatten(reason)
            elif reason and pair in self.opened_ms:
                out.append(Alert(ts=now, id=f"stop:{pair}@{now}", severity="warning", source="execution",
                                 message=f"{pair}: {reason}"))
                out += self._exit(pair, f"stop:{pair}@{now}", now, reason)
        return out

    def _exit(self, pair: str, signal_id: str, now: int, reason: str) -> list[Event]:
        """Close ``pair``: at once, or with ``defer_exits`` as a signal in ``exits`` (the spread counts as left)."""
        legs = tuple(self.net.legs(pair))
        if not self.defer_exits:
            return self._trade(pair, signal_id, now, legs, tuple(0.0 for _ in legs), 0.0)
        self.opened_ms.pop(pair, None)  # no second stop while this one waits; `acted` still holds it
        self.exits.append(Signal(ts=now, id=signal_id, pair=pair, hedge_ratio=0.0, spread=0.0, zscore=0.0,
                                 target=0.0, reason=reason, legs=legs, leg_targets=tuple(0.0 for _ in legs)))
        return []

    def flatten(self, reason: str) -> list[Event]:
        """Halt entries and close every position with reduce-only orders.

        With the operator's controls, a kill or the drawdown stop also pauses them with ``reason``: their
        pause file keeps it across a restart, and the operator's resume lifts the halt.

        With ``defer_exits`` it closes the spreads held, each by a deferred exit (`_exit`): a coin left
        over outside every open spread (an exit that did not fill) is not in one, so it stays.
        """
        self.halted = reason
        if self.control is not None and not self.control.state().entries_paused:
            self.control.pause_entries(reason)  # in the pause file: a restarted trader stays paused until resumed
        now = max(self.seen_ms.values(), default=self.clock.now_ms())
        out: list[Event] = [Alert(ts=now, id=f"halt@{now}", severity="critical", source="execution",
                                  message=f"trading halted and positions flattened: {reason}")]
        if self.defer_exits:
            for pair in list(self.opened_ms):
                out += self._exit(pair, f"flatten:{pair}@{now}", now, reason)
            return out
        self._zero_spreads(f"flatten@{now}", now)
        return out + self._close_all(f"flatten@{now}", now)

    def _zero_spreads(self, signal_id: str, now: int) -> None:
        """Set every open spread's legs and target to 0: a flatten closes them all (its orders close whole coins)."""
        for pair in list(self.opened_ms):
            legs = tuple(self.net.legs(pair))
            self.net.update(SpreadTarget(pair, signal_id, now, legs, tuple(0.0 for _ in legs)))
            self.acted[pair] = 0.0
        self.opened_ms.clear()

    def _close_all(self, signal_id: str, now: int) -> list[Event]:
        """Close every coin held with reduce-only orders under ``signal_id``, journaled first like a spread change.

        The spread journal's line (pair `FLATTEN`, one leg per coin) lets a restart run a flatten a
        kill cut between its legs again under the same id: legs sent are skipped by cloid, the
        coins still held close. The ledger takes the legs as `FLATTEN` intents, so their fills close
        every spread's legs (`operators.pnl_ledger`), here and, from the journal, after a restart. A coin
        the spreads hold in opposite directions, netting to nothing, gets no order: their legs are
        crossed in the ledger at its mark (`PnlLedger.crossing`), so the ledger ends as flat as the venue.
        No fill shows that cross, so the same line carries it (a line of its own when the flatten sends
        nothing), and a restart without a recovery snapshot applies it again (`adopt`).
        """
        cross = self.ledger.crossing(now, self.marks, f"cross:{signal_id}", self.last_fill_ms)
        plans = [LegPlan(coin, -book.szi, self.marks[coin], signal_id, reduce_only=True)
                 for coin, book in self.ledger.coins.items() if book.szi and coin in self.marks]
        legs = [OrderIntent(ts=now, id=cloid_for(signal_id, plan.coin), coin=plan.coin, pair=FLATTEN,
                            signal_id=signal_id, is_buy=plan.delta > 0, sz=abs(plan.delta), limit_px=plan.mark,
                            reduce_only=True) for plan in plans]
        if self.spread_journal is not None and (legs or cross is not None):
            spread = SpreadTarget(FLATTEN, signal_id, now, tuple(plan.coin for plan in plans),
                                  tuple(plan.delta for plan in plans))
            self.spread_journal.record(FLATTEN, 0.0, legs, spread if legs else None, cross)
        crossed = [] if cross is None else self.ledger.cross(cross)
        if not plans:
            return crossed + self.pull()
        for leg in legs:
            self.ledger.update(leg)
        return crossed + self._settle(self.router.execute(plans, self._context()))

    def _settle(self, sent: list[Event]) -> list[Event]:
        """Count the fills of the orders just sent before the next decision: from the stream, else over REST.

        An order the router left UNKNOWN blocks entries and makes the next poll a full reconciliation,
        which settles it by cloid.
        """
        cloids = [event.cloid for event in sent if isinstance(event, Order)]
        out: list[Event] = list(sent)
        orders = self.router.tracker.orders
        unknown = [cloid for cloid in cloids if cloid in orders and orders[cloid].status == "unknown"]
        if unknown:
            self.unreachable = self.blocked = f"order state unknown: {', '.join(sorted(set(unknown)))}"
        deadline = time.monotonic() + self.fill_wait_s
        while self.stream is not None and self.stream_live and self.router.tracker.awaiting_fills(cloids):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            out += self._from_stream(self.stream.wait(min(left, 0.05)))
        if self.stream is None or not self.stream_live or self.router.tracker.awaiting_fills(cloids):
            out += self.pull()
        return out

    def _from_stream(self, events: list[Any]) -> list[Event]:
        """Apply the user stream's events: a (re)connection is reconciled, a loss falls back to REST polling."""
        out: list[Event] = []
        for event in events:
            if isinstance(event, Reconnected):
                self.stream_live = True
                out += self._reconcile()
            elif isinstance(event, Disconnected):
                self.stream_live = False
                _log.warning("user stream lost; polling fills over REST", extra={"reason": event.reason})
            elif isinstance(event, Order):
                if event.cloid in self.router.tracker.orders:
                    out += self.router.tracker.update(event)
            else:
                out += self._account([event])
        return out

    def pull(self) -> list[Event]:
        """Pull fills and funding payments since the last seen over REST; fold them into the ledgers.

        Fills and payments each have their own cursor: the exchange answers a page of at most 500
        payments, so asking for payments since the last *fill* would, on a position held for days,
        return the same already-counted page forever and never the new ones (and cost more each hour).
        When the exchange does not answer, entries are blocked and the next pull is a full reconciliation.
        """
        self._last_pull = time.monotonic()
        now = WALL_CLOCK.now_ms()
        try:
            fills = fills_from_wire(self.account.fills_since(self.last_fill_ms), now)
            payments = funding_from_wire(self.account.funding_since(self.last_funding_ms), now)
        except HyperliquidError as error:
            return self._lost(error)
        return self._account([*fills, *payments])

    def _account(self, events: list[Fill | FundingPayment]) -> list[Event]:
        """Fold fills and funding payments (each counted once by id) into the ledgers, tracker and risk."""
        out: list[Event] = []
        for event in sorted(events, key=lambda e: (e.ts, e.id)):
            if self._taking_over:
                out += self._cross_adopted(event.ts)
            changed = self.ledger.update(event)
            if changed:
                out.append(event)
                out += changed
                if isinstance(event, Fill):
                    if event.cloid not in self.router.journal.sent:
                        signed = event.sz if event.side == "B" else -event.sz
                        self.outside[event.coin] = self.outside.get(event.coin, 0.0) + signed
                    # a fill not ours, or one that may end a block, is checked against the exchange next batch
                    self._recheck = self._recheck or event.cloid not in self.router.journal.sent or bool(self.blocked)
                    out += self.router.tracker.update(event)
                    out.append(self._position(event.coin, event.ts))
                    self.last_fill_ms = max(self.last_fill_ms, event.ts)
                else:
                    self.last_funding_ms = max(self.last_funding_ms, event.ts)
        if self._taking_over:
            out += self._cross_adopted(math.inf)
        for pnl in out:
            if isinstance(pnl, Pnl):
                self.risk.update(pnl)
        self.risk.hold({coin: book.szi for coin, book in self.ledger.coins.items()})
        return out

    def _position(self, coin: str, ts: int) -> Position:
        """Return our position in ``coin`` after a fill, from our own fills (``id`` ``desk:COIN@ts``).

        Margin and leverage are the exchange's figures: they are in the rows reconciliation
        stores from ``clearinghouseState`` (``id`` ``COIN@time``) and are 0 here.
        """
        book = self.ledger.coins[coin]
        mark = self.marks.get(coin, book.entry)
        return Position(ts=ts, id=f"desk:{coin}@{ts}", coin=coin, szi=book.szi, entry_px=book.entry, mark_px=mark,
                        unrealized_pnl=book.unrealized(mark), margin_used=0.0, leverage=0.0)

    def shutdown(self) -> list[Event]:
        """Cancel what is still open, count the last fills and funding over REST, stop following the account."""
        self.router.shutdown()
        out = self.pull()
        if self.stream is not None:
            self.stream.close()
        return self._stamped(out)

    def reconcile(self) -> list[Event]:
        """Compare our books with the exchange's (start, reconnect); block entries while they differ."""
        return self._stamped(self._reconcile())

    def _reconcile(self) -> list[Event]:
        self.unreachable = ""
        for intent in self._adopted_intents:  # before the pull: its fills are attributed through them
            self.ledger.update(intent)
        out = self.pull()
        self._recheck = False  # the fills just pulled are checked below
        if self.unreachable:
            return out
        if self._taking_over:
            self._take_over_spreads()
        now = WALL_CLOCK.now_ms()
        try:
            positions, _ = positions_from_wire(self.account.clearinghouse(), now)
            remote_orders = open_orders_from_wire(self.account.open_orders(), now)
        except HyperliquidError as error:
            return out + self._lost(error)
        ours_remote = [order for order in remote_orders if order.cloid in self.router.tracker.orders]
        for order in ours_remote:
            out += self.router.tracker.update(order)
        listed = {order.cloid for order in ours_remote}
        out += self.router.settle([cloid for cloid in self.router.tracker.open_cloids() if cloid not in listed])
        ours = {coin: book.szi for coin, book in self.ledger.coins.items() if book.szi}
        held = {position.coin for position in positions if position.szi}
        self.outside = {coin: size for coin, size in self.outside.items() if coin in held}
        problems = mismatches(ours, positions, set(self.router.tracker.open_cloids()),
                              ours_remote, outside=self.outside)
        out += positions
        for position in positions:
            out += self.risk.update(position)
        for problem in problems:
            EXECUTION_RECONCILIATION_MISMATCHES.labels(kind=problem.split(" ", 1)[0]).inc()
        if problems:
            self.blocked = "; ".join(problems)
            out.append(Alert(ts=now, id=f"reconcile@{now}", severity="critical", source="execution",
                             message=f"reconciliation mismatch, entries blocked: {self.blocked}"))
        else:
            self._alerted = False
            if self.blocked:
                out.append(Alert(ts=now, id=f"reconciled@{now}", severity="info", source="execution",
                                 message="reconciled with the exchange; entries allowed again"))
            self.blocked = ""
        return out


def _market_first(event: Event) -> tuple[int, bool]:
    """Sort key of a batch: event time, market data before a signal of the same ms (computed from it)."""
    return event.ts, isinstance(event, Signal)


def _top_depth(book: BookSnapshot | None) -> float:
    """Return the USD resting at the best bid and ask (0 unknown): the router sends the thinner leg first."""
    if book is None or not book.bid_px or not book.ask_px:
        return 0.0
    return book.bid_px[0] * book.bid_sz[0] + book.ask_px[0] * book.ask_sz[0]
