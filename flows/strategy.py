"""The strategy stage: bars, funding, book snapshots and fees in; Signals per spread out.

::

    bars (coin, [Bar]) ──────────┐
    market (coin, [Funding |     ├─► fan out to spreads ─► per-spread state ─► (pair, [Signal]) ─► pf.signals
            BookSnapshot |       │   (pair, [event])       (SpreadStrategy:                         signals table
            FeeSchedule |        │                          align → Kalman → z → features
            Delisting])  ────────┘                          → rule → River models)

`strategy_stage` is a function from Bytewax streams to the stream of
signals, so it chains after the ingest stage in one dataflow (embedded, paper,
backtest) or reads ``md.bars`` / ``md.books`` / ``md.funding`` / ``md.fees``
/ ``md.delistings`` as its own dataflow (distributed). State is keyed by
spread, so Bytewax spreads the spreads over its workers, and every spread's
models are part of the recovery snapshot. A refused event (missing, stale or
bad leg, gap, revised bar) is logged and counted in
``pairflow_strategy_refused_events`` by reason; it yields no signal and
leaves that spread's state and every other spread alone.

A rescan reaches a running stage as `PairStats` (``pf.pair_stats``, from
``pairflow scan --publish``; in embedded mode from a periodic rescan in the
same process, `with_rescans`): an accepted spread not traded yet is added to
the one router, whose snapshot keeps it across a resume, and one ADWIN
retired is re-admitted.

The spread universe is resolved before the flow starts (`resolve_spreads`): a
configured spread with a coin that is not listed, or is delisted, is refused
with its reason and the others run. With a top-N collector the collected
coins are only known from ``md.ctx``: once its first poll is complete the router
refuses a spread with a coin no context has named, takes it back when contexts
name all its coins (a restarted collector collecting them), and keeps what it
refused in its snapshot, so a resumed run does not count a refusal again. A coin delisted while the flow runs comes
as a `Delisting` (the collector reads it from ``meta`` onto ``md.delistings``):
each spread with that leg sends one flat "delisted" signal and refuses its bars
from then on, counted by that reason; the other spreads are not touched.

Given the operator's `pairflow.control.Control` (embedded mode, where the
API runs in the same process), each spread reads its tuning on every batch
and takes changed bands and sizes at once, keeping its models. A strategy
running as its own process gets the same change as a `StrategyParams` on
``pf.params`` (`pairflow api --broker`), which every spread takes at its
event time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from functools import partial
from operator import attrgetter
from typing import Any, NamedTuple

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream, operator
from bytewax.inputs import Source

from flows.decode import decode_batch
from flows.ingest import IngestStreams, bars_from_topic
from operators.spread_strategy import Skip, SpreadStrategy, pair_name
from pairflow.config import Settings, StrategySettings
from pairflow.control import Control
from pairflow.events import (
    TOPIC_OF, AssetContext, Bar, BookSnapshot, Delisting, FeeSchedule, Funding, PairStats, Signal, StrategyParams,
)
from pairflow.logs import get_logger
from pairflow.metrics import STRATEGY_REFUSED_EVENTS, STRATEGY_REFUSED_SPREADS, STRATEGY_SIGNALS
from pairflow.storage import Store
from sinks.clickhouse import ClickHouseSink
from sinks.topic import TopicSink
from sources.scan_universe import latest_accepted_spreads

__all__ = [
    "STRATEGY_TOPICS",
    "RouterState",
    "chain_strategy",
    "resolve_spreads",
    "strategy_dataflow",
    "strategy_stage",
    "universe_pairs",
    "with_rescans",
]

log = get_logger(__name__)

_MARKET_TYPES = (Funding, BookSnapshot, FeeSchedule, Delisting, StrategyParams)
_TO_EVERY_SPREAD = (FeeSchedule, StrategyParams)
_ROUTED_TYPES = frozenset({Bar, PairStats, AssetContext, *_MARKET_TYPES})

# What a strategy dataflow of its own reads: the ingest stage publishes bars and book snapshots,
# `pairflow scan --publish` the accepted spreads of a rescan, `pairflow api --broker` parameter changes,
# the collector the asset contexts that say which coins it collects.
STRATEGY_TOPICS: tuple[str, ...] = (
    TOPIC_OF[Bar], TOPIC_OF[BookSnapshot], TOPIC_OF[Funding], TOPIC_OF[FeeSchedule], TOPIC_OF[Delisting],
    TOPIC_OF[PairStats], TOPIC_OF[StrategyParams], TOPIC_OF[AssetContext],
)
_QUIET_REASONS = frozenset({"revision"})
_event_time = attrgetter("ts")


def universe_pairs(settings: StrategySettings, store: Store) -> list[str]:
    """Return the spreads to trade as ``"A/B"`` names: the newest scan's accepted ones, else ``settings.pairs``.

    With ``universe = "config"`` only the configured pairs count. A scan's
    spread lists its coins dependent leg first, the order the Kalman filter wants.
    """
    if settings.universe == "pair_stats":
        accepted = latest_accepted_spreads(store)
        if accepted:
            return ["/".join(stats.coins or (stats.coin_a, stats.coin_b)) for stats in accepted]
    return list(settings.pairs)


def resolve_spreads(
    pairs: Iterable[str],
    listed: Collection[str] | None = None,
    delisted: Collection[str] = (),
) -> list[tuple[str, ...]]:
    """Return the legs of each tradable spread in ``pairs`` (``"ETH/SOL"`` style), in order, without repeats.

    A spread naming a coin outside ``listed`` (when given) or inside
    ``delisted`` is left out, logged and counted with its reason.
    """
    spreads: list[tuple[str, ...]] = []
    for pair in pairs:
        legs = tuple(pair.split("/"))
        unknown = [coin for coin in legs if listed is not None and coin not in listed]
        gone = [coin for coin in legs if coin in delisted]
        reason = "unknown-coin" if unknown else "delisted" if gone else None
        if reason is not None:
            _refuse_spread(pair, reason, unknown or gone)
        elif legs not in spreads:
            spreads.append(legs)
    return spreads


def _refuse_spread(pair: str, reason: str, coins: list[str]) -> None:
    STRATEGY_REFUSED_SPREADS.labels(reason=reason).inc()
    log.warning("spread refused", pair=pair, reason=reason, coins=",".join(coins))


class RouterState(NamedTuple):
    """What the router keeps across a resume: spreads rescans added, spreads refused, the coins seen in md.ctx."""

    added: tuple[tuple[str, ...], ...] = ()
    refused: tuple[tuple[str, ...], ...] = ()
    seen: frozenset[str] = frozenset()
    first_poll_ms: int | None = None
    judged: bool = False
    delisted: frozenset[str] = frozenset()


class _FanOut:
    """Route each coin's events to the spreads that have the coin as a leg; fees go to every spread.

    A rescan's `PairStats` go to the spread they name (it may re-admit it);
    an accepted spread not traded yet is added (`add`) and routed from then on.

    The asset contexts (``md.ctx``: one per collected coin each REST poll, all
    stamped alike, and WebSocket updates) tell which coins are collected, which
    a top-N collector (empty ``collector.coins``) only learns at run time. Once
    the first poll is complete (a context of a later time arrives), a spread
    with a leg no context has named would never see a bar: it leaves the
    routing, refused by name and counted as "unknown-coin" once (so is one a
    rescan adds afterwards). It rejoins
    when contexts name all its legs (a top-N collector restarted with other
    coins). A coin that stops sending contexts is not judged by its silence,
    which a slow poll or a sped-up venue would imitate: its spreads pause on
    the stale leg like those of any quiet coin.

    Items come out as ``(pair, (pair, [event, ...]))``: Bytewax does not tell a
    stateful step its key, and a spread's state is built from it. From the
    ingest stage in the same dataflow a batch arrives grouped by coin, so its
    events are routed in event-time order (a stable sort of a few sorted runs):
    fed one leg's whole batch before the other's, a spread would find the other
    leg stale, and a spread a rescan adds mid-batch would miss the bars after
    the rescan. Given ``ordered`` input (a time-ordered source decoded in record
    order: the distributed stage) events are routed exactly as they come
    instead: a sort per batch would move a bar correction, a bar of another
    interval or an equal-time event of another coin differently depending on
    where the batches were cut, which differs between runs and between a
    1-process and an N-process cluster, and so would the signals.
    """

    def __init__(
        self, spreads: list[tuple[str, ...]], state: RouterState | None = None, ordered: bool = False,
    ) -> None:
        self.ordered = ordered
        self.all: list[str] = []
        self.by_coin: dict[str, list[str]] = {}
        self.added: list[tuple[str, ...]] = []
        self.refused: dict[str, tuple[str, ...]] = {}
        self.seen: set[str] = set()
        self.first_poll_ms: int | None = None
        self.judged = False
        self.delisted: set[str] = set()
        for legs in spreads:
            self.add(legs, rescanned=False)
        if state is not None:
            self.restore(state)

    def add(self, legs: tuple[str, ...], rescanned: bool = True) -> None:
        """Route ``legs``' events to their spread from now on (``rescanned``: a rescan added it while running)."""
        pair = pair_name(legs)
        if pair in self.all or pair in self.refused:
            return
        self._route(pair, legs)
        if rescanned:
            self.added.append(legs)
            log.info("spread added by a rescan", pair=pair)

    def snapshot(self) -> RouterState:
        """Return the state a resumed router needs to route and count exactly as this one would."""
        return RouterState(tuple(self.added), tuple(self.refused.values()), frozenset(self.seen), self.first_poll_ms,
                           self.judged, frozenset(self.delisted))

    def restore(self, state: RouterState) -> None:
        """Take back a `snapshot`: re-add the rescanned spreads and leave the refused ones out, without counting."""
        for legs in state.added:
            self.add(legs)
        for legs in state.refused:
            pair = pair_name(legs)
            if pair in self.all:
                self._unroute(pair, legs)
            self.refused[pair] = legs
        self.seen = set(state.seen)
        self.first_poll_ms = state.first_poll_ms
        self.judged = state.judged
        self.delisted = set(state.delisted)

    def __call__(self, items: list[tuple[str, list[Any]]]) -> list[tuple[str, tuple[str, list[Any]]]]:
        routed: dict[str, list[Any]] = {}
        by_coin, everyone = self.by_coin, self.all
        batch = [event for _, events in items for event in events if type(event) in _ROUTED_TYPES]
        if not self.ordered:
            batch.sort(key=_event_time)
        for event in batch:
            kind = type(event)
            if kind is AssetContext:
                self._context(event)
                continue
            if kind is Delisting:
                self.delisted.add(event.coin)  # its spreads retire as delisted, not as unknown
            if kind is PairStats:
                legs = tuple(event.coins or (event.coin_a, event.coin_b))
                if event.accepted:
                    self.add(legs)
                    if self.judged:  # the universe is known: a rescan's spread with a coin not collected is refused
                        self._judge(refuse=True)
                targets = (pair_name(legs),) if pair_name(legs) in everyone else ()
            else:
                targets = everyone if kind in _TO_EVERY_SPREAD else by_coin.get(event.coin, ())
            for pair in targets:
                group = routed.get(pair)
                if group is None:
                    routed[pair] = [event]
                else:
                    group.append(event)
        return [(pair, (pair, events)) for pair, events in routed.items()]

    def _context(self, context: AssetContext) -> None:
        new = context.coin not in self.seen
        self.seen.add(context.coin)
        if not self.judged:
            if self.first_poll_ms is None:
                self.first_poll_ms = context.ts
            elif context.ts > self.first_poll_ms:
                # A later context: the first poll is complete, and every coin seen so far is collected.
                self.judged = True
                self._judge(refuse=True)
        elif new and self.refused:
            self._judge(refuse=False)

    def _judge(self, refuse: bool) -> None:
        known = self.seen | self.delisted
        if refuse:
            for pair in list(self.all):
                legs = tuple(pair.split("/"))
                missing = [coin for coin in legs if coin not in known]
                if missing:
                    self._unroute(pair, legs)
                    self.refused[pair] = legs
                    _refuse_spread(pair, "unknown-coin", missing)
        for pair, legs in list(self.refused.items()):
            if all(coin in known for coin in legs):
                del self.refused[pair]
                self._route(pair, legs)
                log.info("spread re-admitted", pair=pair, reason="its coins are collected now")

    def _route(self, pair: str, legs: tuple[str, ...]) -> None:
        self.all.append(pair)
        for coin in legs:
            self.by_coin.setdefault(coin, []).append(pair)

    def _unroute(self, pair: str, legs: tuple[str, ...]) -> None:
        self.all.remove(pair)
        for coin in legs:
            self.by_coin[coin].remove(pair)


class _RouterLogic(op.StatefulBatchLogic):
    """The one `_FanOut` of the stage; its `RouterState` is the recovery state."""

    def __init__(self, spreads: list[tuple[str, ...]], resume_state: RouterState | None, ordered: bool) -> None:
        self.fan_out = _FanOut(spreads, resume_state, ordered)

    def on_batch(self, values: list[tuple[str, list[Any]]]) -> tuple[list[tuple[str, tuple[str, list[Any]]]], bool]:
        return self.fan_out(values), op.StatefulBatchLogic.RETAIN

    def snapshot(self) -> RouterState:
        return self.fan_out.snapshot()


class _SpreadLogic(op.StatefulBatchLogic):
    """One spread's `SpreadStrategy`; its snapshot (models included) is the recovery state."""

    def __init__(self, settings: StrategySettings, resume_state: Any, control: Control | None = None) -> None:
        self.settings = settings
        self.control = control
        self.tuned = 0
        self.strategy: SpreadStrategy | None = None
        if resume_state is not None:
            self.strategy = SpreadStrategy.restore(resume_state)
            self.strategy.restarted()

    def on_batch(self, values: list[tuple[str, list[Any]]]) -> tuple[list[list[Signal]], bool]:
        strategy = self.strategy
        if strategy is None:
            strategy = self.strategy = SpreadStrategy(tuple(values[0][0].split("/")), self.settings)
        if self.control is not None:
            self._retune(strategy, self.control)
        update = strategy.update
        emitted = _signals_of([out for _, events in values for event in events for out in update(event)])
        return ([emitted] if emitted else []), op.StatefulBatchLogic.RETAIN

    def _retune(self, strategy: SpreadStrategy, control: Control) -> None:
        tuning = control.tuning()
        if tuning.version == self.tuned:
            return
        self.tuned = tuning.version
        try:
            strategy.retune(**tuning.values)
        except (TypeError, ValueError) as error:
            log.warning("parameter change refused", pair=strategy.pair, error=str(error))
            return
        log.info("parameters changed", pair=strategy.pair, version=tuning.version, **tuning.values)

    def on_eof(self) -> tuple[list[list[Signal]], bool]:
        if self.strategy is None:
            return [], op.StatefulBatchLogic.RETAIN
        emitted = _signals_of(self.strategy.flush())
        return ([emitted] if emitted else []), op.StatefulBatchLogic.RETAIN

    def snapshot(self) -> Any:
        return None if self.strategy is None else self.strategy.snapshot()


def _signals_of(outputs: list[Signal | Skip]) -> list[Signal]:
    emitted: list[Signal] = []
    for out in outputs:
        if type(out) is Skip:
            _refused(out)
        else:
            emitted.append(out)  # type: ignore[arg-type]
    if emitted:
        STRATEGY_SIGNALS.labels(pair=emitted[0].pair).inc(len(emitted))
    return emitted


def _refused(skip: Skip) -> None:
    STRATEGY_REFUSED_EVENTS.labels(pair=skip.pair, reason=skip.kind).inc()
    if skip.kind in _QUIET_REASONS:
        log.debug("event refused", pair=skip.pair, reason=skip.kind, ts=skip.ts, detail=skip.detail)
    else:
        log.info("event refused", pair=skip.pair, reason=skip.kind, ts=skip.ts, detail=skip.detail)


@operator
def strategy_stage(
    step_id: str,
    bars: Stream[tuple[str, list[Any]]],
    spreads: list[tuple[str, ...]],
    settings: StrategySettings,
    market: Stream[tuple[str, list[Any]]] | None = None,
    control: Control | None = None,
    ordered: bool = False,
) -> Stream[tuple[str, list[Signal]]]:
    """Turn bars (and funding, book snapshots, fees) into Signals per spread: the strategy stage.

    Parameters
    ----------
    step_id
        Name of the stage in the dataflow; its steps are named under it.
    bars
        ``(coin, [Bar, ...])`` items: the ingest stage's bars in-process, or
        ``md.bars`` decoded. Bars of other intervals than
        ``settings.bar_interval`` are ignored.
    spreads
        The legs of each spread (`resolve_spreads`); the first leg is explained by the others.
    settings
        Bands, Kalman noise, sizes and model switches.
    market
        Optional ``(key, [event, ...])`` items carrying `Funding`,
        `BookSnapshot`, `FeeSchedule`, `Delisting` and rescan `PairStats`
        events (others are ignored). Without it, costs use the configured fee and half-spread
        and funding is zero.
    control
        The operator's controls when the API runs in this process: each
        spread takes changed parameters (`Control.retune`) on its next batch.
    ordered
        ``bars`` is one stream already in the order to process it, with
        ``market`` None (`strategy_dataflow`): events are routed as they come,
        so the signals are a function of that order alone, not of how it was
        cut into batches (see `_FanOut`).

    Returns
    -------
    ``(pair, [Signal, ...])`` items, for the signals table and ``pf.signals``.
    """
    merged = bars if market is None else op.merge("merge", bars, market)
    # One router, so the spreads a rescan adds are known to it wherever the input was read.
    together = op.key_on("route", merged, lambda _: "spreads")
    # (coin, [event]) -> (pair, (pair, [event])) for every spread having the coin as a leg.
    routed = op.stateful_batch("fan_out", together, lambda state: _RouterLogic(spreads, state, ordered))
    per_spread = op.map("by_spread", routed, lambda keyed: keyed[1])
    # (pair, (pair, [event])) -> (pair, [Signal])
    return op.stateful_batch("spreads", per_spread, lambda state: _SpreadLogic(settings, state, control))


def with_rescans(step_id: str, market: Stream[tuple[str, list[Any]]], rescans: Source) -> Stream[tuple[str, list[Any]]]:
    """Merge an in-process rescan's `PairStats` into ``market`` (embedded mode, where no ``pf.pair_stats`` is read).

    ``rescans`` yields ``(topic, PairStats, None, None)`` records
    (`app.runners.rescans.PeriodicRescan`); they are checked by the same
    decoder as the topic's, so the router sees them as it sees the topic's.
    """
    # (topic, PairStats, None, None) -> (pair, [PairStats])
    scans = bars_from_topic(f"{step_id}_decode", op.input(step_id, market.flow(), rescans))
    return op.merge(f"{step_id}_merge", market, scans)


def chain_strategy(
    spreads: list[tuple[str, ...]], settings: Settings, *, workers: int = 1, publish: bool = False
) -> Callable[[IngestStreams], None]:
    """Return the ``then`` hook that runs the strategy stage on the ingest stage's streams, in the same dataflow.

    Signals go to the ``signals`` table, and also to ``pf.signals`` when
    ``publish`` (an execution dataflow in another process reads them there).
    """

    def wire(streams: IngestStreams) -> None:
        # (coin, [Funding | FeeSchedule | BookSnapshot | other events, ignored by the stage])
        market = op.merge("strategy_market", streams.events, streams.snapshots)
        signals = strategy_stage("strategy", streams.bars, spreads, settings.strategy, market=market)
        _deliver(signals, settings, workers, publish)

    return wire


def strategy_dataflow(
    settings: Settings,
    spreads: list[tuple[str, ...]],
    source: Source,
    *,
    workers: int = 1,
    publish: bool = True,
    store: bool = True,
    flow_id: str = "strategy",
) -> Dataflow:
    """Build the strategy as a dataflow of its own (distributed mode): topics in, signals stored and published.

    Parameters
    ----------
    settings
        ``strategy`` (the stage), ``storage`` (the signals table; the schema
        must exist) and ``broker`` (``pf.signals``).
    spreads
        The legs of each spread (`resolve_spreads`).
    source
        Raw records of `STRATEGY_TOPICS`, e.g.
        ``time_ordered_source(brokers, STRATEGY_TOPICS, window=ORDER_WINDOW)``
        (legs, books and fees in event-time order); they are decoded and
        routed in exactly that order, so the signals are a function of it
        alone, on one process or a cluster. Until a leg's first book snapshot
        its cost uses the configured half-spread.
    workers
        Bytewax workers that will run it; sink partitions are spread over them.
    publish
        Also publish the signals on ``pf.signals``.
    store
        Store the signals; False when a store-writer stage owns the store and
        stores them from ``pf.signals``.
    """
    flow = Dataflow(flow_id)
    # (topic, bytes, partition, offset)
    raw = op.input("input", flow, source)
    # ("in-order", [Bar | BookSnapshot | Funding | ... in record order]); rejected records come out as dead
    # letters (counted and logged by the decoder), which the router does not route.
    events = op.flat_map_batch("decode", raw, partial(decode_batch, one_group="in-order"))
    signals = strategy_stage("strategy", events, spreads, settings.strategy, ordered=True)
    _deliver(signals, settings, workers, publish, store=store)
    return flow


def _deliver(
    signals: Stream[tuple[str, list[Signal]]], settings: Settings, workers: int, publish: bool, *, store: bool = True
) -> None:
    if store:
        op.output("store_signals", signals, ClickHouseSink(settings.storage, partitions=workers))
    if publish:
        op.output("publish_signals", signals, TopicSink(settings.broker, (TOPIC_OF[Signal],), partitions=workers))
