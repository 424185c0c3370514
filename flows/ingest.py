"""The ingest stage and the ingest dataflow: market data in, raw events plus derived bars and book snapshots out.

::

    source ─► decode & validate ─┬─► dead letters ─────────────────────────────► dead-letter sink
                                 └─► (coin, events) ─► tick ─► per-coin state ─┬─► events ──┐
                                                               (TradeBars,     ├─► bars ────┼─► store sink
                                                                BookSampler)   │    └─────► md.bars / next stage
                                                                               └─► snapshots┘
                                                                                    └─────► md.books

`ingest_stage` is the stage: a function from a stream of raw records to
`IngestStreams`. `build_ingest_flow` wires it between injected sinks, and
`ingest_dataflow` builds the whole dataflow from settings for every entry
point: ``pairflow ingest`` (embedded or distributed), ``pairflow demo`` and
Bytewax's own launcher (`kafka_ingest_flow`). The flow never branches on mode:
the source (Kafka or the in-process queue), the sinks and the clock are
injected. Exactly-once *results* come from three parts:
Bytewax recovery resumes source offsets and operator state from the last
snapshot, the store sink flushes before an epoch completes, and every row
carries a stable id so rows written twice around a crash collapse in
ReplacingMergeTree tables (read with FINAL).

The bars depend on the input alone, never on how fast or in what batches it
is read, so one process and a cluster publish the same versions, the first
ones included (the strategy trades first versions): each version goes out at
the trade that makes it (`operators.bars`), and a quiet coin's bars close on
event time -- the time the partitions its worker reads have reached
(`flows.ticks.Ticker`) -- while any of them has records waiting. The clock
closes them only once every partition is at the end of its log and stays
silent for ``idle_close_s`` (a live market that went quiet); this needs a
coin's trades in one partition, in event-time order within the lateness, and a
source that reports where it stands (``report_progress`` of
`sources.kafka_source.market_data_source`, `sources.queue_source.QueueSource`
and `sources.journal.Journal`, set by every ingest entry point; a source that
does not is taken to be at its end).
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream, operator
from bytewax.inputs import Source
from bytewax.outputs import Sink
from bytewax.recovery import RecoveryConfig, init_db_dir

from flows.decode import DEAD_LETTER_KEY, DeadLetter, decode_batch
from flows.ticks import ClockTick, Ticker
from operators.bars import TradeBars
from operators.book import BookSampler
from pairflow.clock import WALL_CLOCK, Clock
from pairflow.config import BrokerSettings, Settings, StorageSettings
from pairflow.events import TOPIC_OF, Bar, BookSnapshot, Gap, L2Book, Trade
from pairflow.logs import get_logger
from pairflow.metrics import INGEST_DUPLICATE_TRADES, INGEST_EXPIRED_TRADES, INGEST_LATE_TRADES
from pairflow.recovery_owner import claim
from pairflow.runtime import tune_gc_for_throughput
from pairflow.storage import connect
from sinks.clickhouse import ClickHouseSink
from sinks.dead_letter import DeadLetterSink
from sinks.topic import TopicSink
from sources.kafka_source import RawRecord, market_data_source

__all__ = [
    "IngestOptions",
    "IngestRun",
    "IngestStreams",
    "LOG_START",
    "Seeds",
    "bars_from_topic",
    "build_ingest_flow",
    "ingest_dataflow",
    "ingest_options",
    "ingest_stage",
    "kafka_ingest_flow",
    "prepare_recovery",
    "tune_gc_for_throughput",
]

log = get_logger(__name__)

# Per coin, the stored trades of the bars a fresh start must rebuild (see `IngestOptions.open_since`).
Seeds = Mapping[str, Sequence[Trade]]
# The seeds of a fresh start reading a broker's log from its beginning: the log holds no coin's trades from
# before its first record (the collector started there, or retention removed them), so, as for a coin with
# nothing stored, each coin's first bars are marked incomplete instead of being taken for complete.
LOG_START: Seeds = MappingProxyType({})


@dataclass(frozen=True)
class IngestOptions:
    """Tuning of the derived streams.

    Parameters
    ----------
    bar_intervals_ms
        Bar lengths built from trades; each needs a ``bars_<label>`` table.
    lateness_ms
        Out-of-order allowance before a bar is first emitted.
    retention_ms
        How long emitted bars stay correctable by late trades.
    book_depth
        Levels per side in book snapshots.
    book_interval_ms
        Cadence of book snapshots in event-time ms; 0 keeps every book (`operators.book.BookSampler`).
    idle_close_s
        Event time without a trade of a coin, while other coins trade, after
        which its bars' event time is assumed to advance with theirs, so they
        still close; also, once the input is at the end of its log, the clock
        time without a trade after which a coin counts as quiet, and once all
        are, event time advances with the injected clock.
    """

    bar_intervals_ms: tuple[int, ...] = (1_000, 60_000)
    lateness_ms: int = 2_000
    retention_ms: int = 600_000
    book_depth: int = 10
    book_interval_ms: int = 1_000
    idle_close_s: float = 2.0

    def open_since(self, last_ts: int) -> int:
        """Return where the oldest bar starts that a flow which folded trades up to ``last_ts`` may not have emitted.

        A bar is emitted once the watermark (newest trade minus the lateness)
        passes its end, so every bar of the widest interval from the one
        holding ``last_ts - lateness_ms`` on may still have been open: a
        restart without recovered state rebuilds them from the stored trades
        from here on.

        >>> IngestOptions(bar_intervals_ms=(1_000, 60_000), lateness_ms=2_000).open_since(121_000)
        60000
        >>> IngestOptions(bar_intervals_ms=(1_000, 60_000), lateness_ms=2_000).open_since(122_000)
        120000
        """
        oldest_open = last_ts - self.lateness_ms
        return oldest_open - oldest_open % max(self.bar_intervals_ms)


class _CoinLogic(op.StatefulBatchLogic):
    """Per-coin state: bars from trades, snapshots from books; other events pass on to be stored.

    Emits up to three values per batch, each a non-empty list of one kind:
    events to store, `Bar` s, `BookSnapshot` s. A `ClockTick` carries the
    event time every coin still being read has reached (`flows.ticks.Ticker`):
    once it is ``idle_close_s`` past the coin's newest trade, the coin's bars'
    event time advances with it so they still close. Event time, not the clock: while a
    backlog is read, a coin whose trades are consumed later than others' must
    not have its bars cut before its own trades arrive, however slowly or
    unevenly the backlog is read. Ticks only come with input; when none came for
    ``idle_close_s`` of wall time and the last tick was ``live`` (the input was
    at the end of its log, so it is silent, not slow) the coin moves the last
    tick's time on by the injected clock's advance since, so a live feed that
    stops still closes its bars. After a tick from a backlog it waits for the
    next one: a reader stalled for seconds must not cut bars. In a replay
    that adds nothing: the event clock stands still while no input arrives.
    """

    def __init__(
        self, options: IngestOptions, clock: Clock, resume_state: dict[str, Any] | None, seeds: Seeds | None = None
    ) -> None:
        self._idle_ms = round(options.idle_close_s * 1_000)
        self._silence = timedelta(seconds=options.idle_close_s)
        self._clock = clock
        self._wake_at: datetime | None = None
        self._last_tick: ClockTick | None = None
        if resume_state is None:
            self.bars = TradeBars(
                intervals_ms=options.bar_intervals_ms,
                lateness_ms=options.lateness_ms,
                retention_ms=options.retention_ms,
            )
            self.book = BookSampler(depth=options.book_depth, interval_ms=options.book_interval_ms)
        else:
            self.bars = TradeBars.restore(resume_state["bars"])
            self.book = BookSampler.restore(resume_state["book"])
        # A fresh start rebuilds its open bars with the coin's first batch; restored state already holds them.
        self._seeds = seeds if resume_state is None else None
        # Set when nothing was stored to rebuild them from: the first trade received then marks them.
        self._unseen = False if resume_state is None else resume_state.get("unseen", False)

    def on_batch(self, groups: list[list[Any]]) -> tuple[list[list[Any]], bool]:
        values = groups[0] if len(groups) == 1 else [value for group in groups for value in group]
        seeded = self._seed(values) if self._seeds is not None else []
        trades = [value for value in values if type(value) is Trade]
        if len(trades) == len(values):
            closed = seeded + self._fold(trades)
            return ([values, closed] if closed else [values]), op.StatefulBatchLogic.RETAIN
        if len(trades) == len(values) - 1 and type(values[-1]) is ClockTick:
            # Trades with the tick `Ticker` appends: the trades folded first, as below.
            closed = seeded + self._fold(trades) if trades else seeded
            closed += self._on_tick(values[-1])
            return [out for out in (trades, closed) if out], op.StatefulBatchLogic.RETAIN
        stored: list[Any] = []
        closed = seeded
        snapshots: list[BookSnapshot] = []
        pending: list[Trade] = []
        for value in values:
            kind = type(value)
            if kind is Trade:
                pending.append(value)
                stored.append(value)
            elif kind is ClockTick:
                # Trades before the tick are folded first, so how batches are cut never matters.
                if pending:
                    closed += self._fold(pending)
                    pending = []
                closed += self._on_tick(value)
            elif kind is Gap:
                # Stored; an unfilled trade gap marks the bars it overlaps incomplete.
                stored.append(value)
                if pending:
                    closed += self._fold(pending)
                    pending = []
                self.bars.coin = self.bars.coin or value.coin
                closed += self.bars.gap(value)
            elif kind is L2Book:
                if not self.book.coin:
                    self.book.coin = value.coin
                snapshots += self.book.update(value)
            else:
                stored.append(value)
        if pending:
            closed += self._fold(pending)
        return [out for out in (stored, closed, snapshots) if out], op.StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        return self._wake_at

    def on_notify(self) -> tuple[list[list[Any]], bool]:
        tick = self._last_tick
        if tick is None or not tick.live:
            self._wake_at = None
            return [], op.StatefulBatchLogic.RETAIN
        closed = self._tick(tick.ms + max(0, self._clock.now_ms() - tick.clock_ms))
        return ([closed] if closed else []), op.StatefulBatchLogic.RETAIN

    def _on_tick(self, tick: ClockTick) -> list[Bar]:
        self._last_tick = tick
        return self._tick(tick.ms)

    def _tick(self, now_ms: int) -> list[Bar]:
        self._wake_at = datetime.fromtimestamp(WALL_CLOCK.now_ms() / 1_000, UTC) + self._silence
        newest = self.bars.newest_ts
        if newest is None or now_ms - newest < self._idle_ms:
            return []
        return self.bars.idle(now_ms - newest)

    def _fold(self, trades: list[Trade]) -> list[Bar]:
        bars = self.bars
        if not bars.coin:
            bars.coin = trades[0].coin
        closed = self._mark_unseen(trades) if self._unseen else []
        counts = (bars.late_trades, bars.duplicate_trades, bars.expired_trades)
        closed += bars.update_batch(trades)
        INGEST_LATE_TRADES.inc(bars.late_trades - counts[0])
        INGEST_DUPLICATE_TRADES.inc(bars.duplicate_trades - counts[1])
        INGEST_EXPIRED_TRADES.inc(bars.expired_trades - counts[2])
        return closed

    def _seed(self, first: list[Any]) -> list[Bar]:
        """Rebuild the bars open before this start from the coin's stored trades, before anything received.

        Without them, the bar open at a kill would be emitted complete with
        only the trades received after the restart (the collector resumes
        after the last stored trade), or never, when none come. Trades stored
        and received again count once (by id). With none stored, the first
        trade received marks the bars before it incomplete instead (`LOG_START`).
        """
        seeds, self._seeds = self._seeds, None
        coin = next((value.coin for value in first if hasattr(value, "coin")), "")
        stored = seeds.get(coin)
        if not stored:
            self._unseen = True
            return []
        self.bars.coin = coin
        return self.bars.update_batch(stored)

    def _mark_unseen(self, first: list[Trade]) -> list[Bar]:
        self._unseen = False
        log.info("no stored trades to rebuild the open bars from: the first bars are marked incomplete",
                 coin=first[0].coin)
        # The first trade received, not the earliest: a late trade sharing its batch must not change what is
        # marked, or where the batches were cut would.
        return self.bars.unseen_before(first[0].ts)

    def on_eof(self) -> tuple[list[list[Any]], bool]:
        bars = self.bars.close_all()
        return ([bars] if bars else []), op.StatefulBatchLogic.RETAIN

    def snapshot(self) -> dict[str, Any]:
        return {"bars": self.bars.snapshot(), "book": self.book.snapshot(), "unseen": self._unseen}


@dataclass(frozen=True)
class IngestStreams:
    """What the ingest stage hands on; every item is ``(key, [event, ...])`` with events of one key.

    Attributes
    ----------
    events
        Valid market events to store, as received: every decoded event except
        raw `L2Book` s (``key`` = coin, or ``"*"`` for the fee schedule).
    bars
        `Bar` s per coin, in the order they close. This is the input contract of
        the next stage (strategy): the same ``Bar.id`` comes again, with more
        trades, when a late trade corrects a bar already emitted; keep the
        version with the most ``trades``. In distributed mode the same items
        are published on ``md.bars`` and a stage reads them back with
        `bars_from_topic`.
    snapshots
        `BookSnapshot` s per coin at the sampling cadence (depth, spread, imbalance).
    dead_letters
        ``(DEAD_LETTER_KEY, [DeadLetter, ...])`` for records that could not be used.
    """

    events: Stream[tuple[str, list[Any]]]
    bars: Stream[tuple[str, list[Bar]]]
    snapshots: Stream[tuple[str, list[BookSnapshot]]]
    dead_letters: Stream[tuple[str, list[DeadLetter]]]


@dataclass(frozen=True)
class IngestRun:
    """What drives one run of the ingest stage and what it hands on, beside its tuning (`IngestOptions`).

    Parameters
    ----------
    clock
        The stage's clock (see `ingest_stage`).
    seeds
        Stored trades of the bars still open at a fresh start (see `ingest_stage`).
    then
        Called with the stage's streams to chain further stages in the same
        dataflow (embedded mode).
    """

    clock: Clock = WALL_CLOCK
    seeds: Seeds | None = None
    then: Callable[[IngestStreams], None] | None = None


@operator
def ingest_stage(
    step_id: str, up: Stream[RawRecord], options: IngestOptions, clock: Clock, seeds: Seeds | None = None
) -> IngestStreams:
    """Decode raw market-data records and derive bars and book snapshots: the ingest stage.

    Parameters
    ----------
    step_id
        Name of the stage in the dataflow; its steps are named under it.
    up
        ``(topic, payload, partition, offset)`` records: JSON bytes from a broker
        (`sources.kafka_source.market_data_source`) or typed events pushed
        in-process (`sources.queue_source.QueueSource`).
    options
        Bar and book settings.
    clock
        Time of dead letters, and of idle bar closing once no trade arrives at
        all: `pairflow.clock.WALL_CLOCK` live, an `pairflow.clock.EventClock`
        in a replay. While trades arrive, idle closing follows the event time
        every coin still being read has reached (`flows.ticks.Ticker`), so
        neither the speed of reading, nor stalls, nor how partitions
        interleave or are spread over a cluster changes the bars, as long as
        each partition is in event-time order (within the lateness) and the
        source reports where it stands (see the module docstring).
    seeds
        For a start without recovered state that resumes after stored data
        (embedded ingest): per coin, the stored trades from
        `IngestOptions.open_since` its last stored trade, folded into the
        coin's bars with its first batch, before anything received, so the
        bars open at a kill come out complete; a coin without any has the
        bars its first trade falls in marked incomplete. `LOG_START` for a
        broker's log read from its beginning: every coin is such a coin. None
        (an input known to be whole from its start) seeds nothing.
    """
    # (coin, [Event]) | (DEAD_LETTER_KEY, [DeadLetter]); lists, so Bytewax routes
    # once per (batch, key) instead of once per event.
    decoded = op.flat_map_batch("decode", up, partial(decode_batch, clock=clock))
    valid = op.branch("split_dead_letters", decoded, lambda item: item[0] != DEAD_LETTER_KEY)
    # (coin, [Event..., ClockTick])
    ticked = op.flat_map_batch("tick", valid.trues, Ticker(
        clock, max(1, round(options.idle_close_s * 250)), follows=Trade, stall_ms=round(options.idle_close_s * 1_000)
    ))
    # (coin, [Event except L2Book]) | (coin, [Bar]) | (coin, [BookSnapshot])
    derived = op.stateful_batch("derive", ticked, lambda state: _CoinLogic(options, clock, state, seeds))
    bars = op.branch("split_bars", derived, lambda item: type(item[1][0]) is Bar)
    snapshots = op.branch("split_snapshots", bars.falses, lambda item: type(item[1][0]) is BookSnapshot)
    return IngestStreams(
        events=snapshots.falses, bars=bars.trues, snapshots=snapshots.trues, dead_letters=valid.falses
    )


def bars_from_topic(
    step_id: str, up: Stream[RawRecord], clock: Clock = WALL_CLOCK, one_group: str | None = None,
) -> Stream[tuple[str, list[Bar]]]:
    """Decode ``md.bars`` records (from `sources.kafka_source.market_data_source` with ``topics=("md.bars",)``).

    Gives a distributed next stage the same ``(coin, [Bar, ...])`` items that
    `IngestStreams.bars` gives an embedded one; malformed records are dropped
    here after being counted and logged by the decoder. With ``one_group``
    each batch's events come as one item of that key in record order
    (`flows.decode.decode_batch`), for a consumer of a time-ordered source.
    """
    decoded = op.flat_map_batch(step_id, up, partial(decode_batch, clock=clock, one_group=one_group))
    return op.filter(f"{step_id}_valid", decoded, lambda item: item[0] != DEAD_LETTER_KEY)


def build_ingest_flow(
    source: Source,
    store_sink: Sink | None,
    dead_letter_sink: Sink,
    options: IngestOptions | None = None,
    flow_id: str = "ingest",
    *,
    publish_sink: Sink | None = None,
    run: IngestRun = IngestRun(),
) -> Dataflow:
    """Wire the ingest dataflow between an injected source and sinks.

    Parameters
    ----------
    source
        Yields ``(topic, payload, partition, offset)`` records
        (`sources.kafka_source.market_data_source`, `sources.queue_source.QueueSource`).
    store_sink
        Receives ``(coin, [event, ...])``: every valid event except raw L2
        books, plus derived `Bar` and `BookSnapshot` events
        (`sinks.clickhouse.ClickHouseSink`, which flushes at every epoch end).
        None stores nothing: in a multi-process deployment the store-writer
        stage (`flows.store_writer`) stores the input topics and what
        ``publish_sink`` publishes.
    dead_letter_sink
        Receives ``(key, [DeadLetter, ...])`` for the rejected records.
    options
        Bar and book settings.
    flow_id
        Dataflow id; recovery state is stored per step id under it.
    publish_sink
        Also receives the ``(coin, [Bar, ...])`` and ``(coin, [BookSnapshot, ...])``
        items, e.g. a `sinks.topic.TopicSink` publishing them on ``md.bars`` and
        ``md.books`` (distributed mode).
    run
        The run's clock, seeds and chained stages.
    """
    options = options or IngestOptions()
    flow = Dataflow(flow_id)
    # (topic, bytes | Event, partition | None, offset | None)
    raw = op.input("input", flow, source)
    streams = ingest_stage("ingest", raw, options, run.clock, run.seeds)
    op.output("dead_letters", streams.dead_letters, dead_letter_sink)
    if store_sink is not None:
        op.output("store", op.merge("to_store", streams.events, streams.bars, streams.snapshots), store_sink)
    if publish_sink is not None:
        op.output("publish", op.merge("to_publish", streams.bars, streams.snapshots), publish_sink)
    if run.then is not None:
        run.then(streams)
    return flow


def prepare_recovery(directory: Path, owner: str, partitions: int = 1) -> RecoveryConfig:
    """Create the recovery partitions in ``directory`` on first use and return the config.

    Recovery partitions hold source offsets and operator state snapshots; keep
    the directory across restarts (and delete it to start from scratch). The
    processes of one Bytewax cluster share the directory and may start at the
    same moment, so creation holds a lock file: one creates, the others find it done.
    ``owner`` names the command whose flow the snapshots are of; another
    command is refused the directory (`pairflow.recovery_owner.claim`).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".init.lock", "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        claim(directory, owner)
        if not any(directory.glob("part-*.sqlite3")):
            init_db_dir(directory, partitions)
    return RecoveryConfig(str(directory))


def ingest_dataflow(
    settings: Settings,
    source: Source,
    dead_letter_dir: Path,
    *,
    workers: int = 1,
    publish_bars: bool = False,
    store: bool = True,
    run: IngestRun = IngestRun(),
) -> Dataflow:
    """Build the ingest dataflow from settings: the one builder behind every entry point.

    Parameters
    ----------
    settings
        ``storage`` (where rows go; the schema must exist), ``collector.book_levels``
        (book snapshot depth) and, when publishing, ``broker``.
    source
        Raw records: `sources.kafka_source.market_data_source` (distributed) or
        a `sources.queue_source.QueueSource` fed by an in-process collector.
    dead_letter_dir
        Where rejected records are written as JSON lines.
    workers
        Bytewax workers that will run it; writer partitions are spread over them.
    publish_bars
        Also publish the bars on ``md.bars`` (and book snapshots on ``md.books``)
        for a strategy dataflow in another process.
    store
        Store the events, bars and snapshots; False when a store-writer stage
        owns the store (the input topics and the published ones are all it needs).
    run
        The run's clock, seeds and chained stages.
    """
    published = (TOPIC_OF[Bar], TOPIC_OF[BookSnapshot])
    return build_ingest_flow(
        source,
        ClickHouseSink(settings.storage, partitions=workers) if store else None,
        DeadLetterSink(Path(dead_letter_dir)),
        ingest_options(settings),
        publish_sink=TopicSink(settings.broker, published, partitions=workers) if publish_bars else None,
        run=run,
    )


def ingest_options(settings: Settings) -> IngestOptions:
    """Return the stage's tuning from settings: what `ingest_dataflow` builds with, and where its seeds start."""
    return IngestOptions(book_depth=settings.collector.book_levels, book_interval_ms=settings.collector.book_interval_ms)


def kafka_ingest_flow(
    brokers: str,
    dsn: str,
    dead_letter_dir: str,
    tail: bool = True,
    workers: int = 1,
) -> Dataflow:
    """Build the distributed ingest flow from plain arguments, for ``python -m bytewax.run``.

    Example::

        python -m bytewax.run "flows.ingest:kafka_ingest_flow('127.0.0.1:9092',
            'chdb:///data/chdb', 'data/dead-letters')" -r data/recovery -s 1 -b 0

    (``-s`` takes whole seconds). Pass ``workers`` equal to ``-w`` so writes
    spread over all workers. The md.* topics must exist; the store schema is
    created if missing; bars and book snapshots are also published on ``md.bars`` and ``md.books``.
    `pairflow ingest` is the usual entry point; this one serves Bytewax's own
    multi-process launcher.
    """
    settings = Settings(
        storage=StorageSettings(dsn=dsn, spill_dir=Path(dead_letter_dir).parent / "spill"),
        broker=BrokerSettings(bootstrap_servers=brokers),
    )
    with connect(settings.storage) as store:
        store.init_schema()
    source = market_data_source(brokers.split(","), tail=tail, report_progress=True)
    return ingest_dataflow(settings, source, Path(dead_letter_dir), workers=workers, publish_bars=True,
                           run=IngestRun(seeds=LOG_START))
