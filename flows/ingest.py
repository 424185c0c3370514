"""The ingest dataflow: market data in, raw events plus derived bars and book snapshots stored.

::

    source ─► decode & validate ─┬─► dead letters ────────────────► dead-letter sink
                                 └─► (coin, events) ─► per-coin state ─► store sink
                                                       (TradeBars, BookSampler;
                                                        other events pass through)

The flow never branches on mode: the source (Kafka or the in-process queue)
and both sinks are injected. Exactly-once *results* come from three parts:
Bytewax recovery resumes source offsets and operator state from the last
snapshot, the store sink flushes before an epoch completes, and every row
carries a stable id so rows written twice around a crash collapse in
ReplacingMergeTree tables (read with FINAL).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink
from bytewax.recovery import RecoveryConfig, init_db_dir

from flows.decode import DEAD_LETTER_KEY, decode_batch
from operators.bars import TradeBars
from operators.book import BookSampler
from pairflow.config import StorageSettings
from pairflow.events import L2Book, Trade
from pairflow.metrics import counter
from pairflow.runtime import tune_gc_for_throughput

__all__ = [
    "IngestOptions",
    "build_ingest_flow",
    "kafka_ingest_flow",
    "prepare_recovery",
    "tune_gc_for_throughput",
]

LATE_TRADES = counter("pairflow_ingest_late_trades", "Trades that arrived after their bar was emitted (bar revised).")
DUPLICATE_TRADES = counter("pairflow_ingest_duplicate_trades", "Trades dropped as duplicates of a counted trade.")
EXPIRED_TRADES = counter("pairflow_ingest_expired_trades", "Trades too old to correct their bar; dropped.")


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
        Cadence of book snapshots.
    idle_close_s
        Wall-clock seconds without a trade of a coin after which its bars'
        event time is assumed to advance with the clock, so they still close.
    """

    bar_intervals_ms: tuple[int, ...] = (1_000, 60_000)
    lateness_ms: int = 2_000
    retention_ms: int = 600_000
    book_depth: int = 10
    book_interval_ms: int = 1_000
    idle_close_s: float = 2.0


class _CoinLogic(op.StatefulBatchLogic):
    """Per-coin state: bars from trades, snapshots from books; every event but raw books passes on.

    When no trade of the coin arrived for ``idle_close_s`` of wall-clock time,
    its bars' event time advances with the clock so they still close.
    """

    def __init__(self, options: IngestOptions, resume_state: dict[str, Any] | None) -> None:
        self._idle_s = options.idle_close_s
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
        self._last_trade = time.monotonic()
        self._notify_due = self._last_trade + options.idle_close_s

    def on_batch(self, groups: list[list[Any]]) -> tuple[list[list[Any]], bool]:
        values = groups[0] if len(groups) == 1 else [value for group in groups for value in group]
        trades = [value for value in values if type(value) is Trade]
        out: list[Any] = values
        if len(trades) < len(values):
            out = []
            for value in values:
                if type(value) is not L2Book:
                    out.append(value)
                    continue
                if not self.book.coin:
                    self.book.coin = value.coin
                out.extend(self.book.update(value))
        if trades:
            self._last_trade = time.monotonic()
            self._notify_due = self._last_trade + self._idle_s
            bars = self.bars
            if not bars.coin:
                bars.coin = trades[0].coin
            counts = (bars.late_trades, bars.duplicate_trades, bars.expired_trades)
            out = out + bars.update_batch(trades)
            LATE_TRADES.inc(bars.late_trades - counts[0])
            DUPLICATE_TRADES.inc(bars.duplicate_trades - counts[1])
            EXPIRED_TRADES.inc(bars.expired_trades - counts[2])
        return [out], op.StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[list[list[Any]], bool]:
        now = time.monotonic()
        self._notify_due = now + self._idle_s
        return [self.bars.idle(int((now - self._last_trade) * 1_000))], op.StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[list[list[Any]], bool]:
        return [self.bars.close_all()], op.StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime:
        wait = max(self._notify_due - time.monotonic(), 0.0)
        return datetime.now(timezone.utc) + timedelta(seconds=wait)

    def snapshot(self) -> dict[str, Any]:
        return {"bars": self.bars.snapshot(), "book": self.book.snapshot()}


def build_ingest_flow(
    source: Source,
    store_sink: Sink,
    dead_letter_sink: Sink,
    options: IngestOptions | None = None,
    flow_id: str = "ingest",
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
    dead_letter_sink
        Receives ``(key, [DeadLetter, ...])`` for the rejected records.
    options
        Bar and book settings.
    flow_id
        Dataflow id; recovery state is stored per step id under it.
    """
    options = options or IngestOptions()
    flow = Dataflow(flow_id)
    # (topic, bytes | Event, partition | None, offset | None)
    raw = op.input("input", flow, source)
    # Items carry lists so Bytewax routes once per (batch, key), not once per event.
    # (coin, [Event]) | (DEAD_LETTER_KEY, [DeadLetter])
    decoded = op.flat_map_batch("decode", raw, decode_batch)
    valid = op.branch("split_dead_letters", decoded, lambda item: item[0] != DEAD_LETTER_KEY)
    op.output("dead_letters", valid.falses, dead_letter_sink)
    # (coin, [Event]) -> (coin, [Event except L2Book | Bar | BookSnapshot])
    stored = op.stateful_batch("derive", valid.trues, lambda state: _CoinLogic(options, state))
    op.output("store", stored, store_sink)
    return flow


def prepare_recovery(directory: Path, partitions: int = 1) -> RecoveryConfig:
    """Create the recovery partitions in ``directory`` on first use and return the config.

    Recovery partitions hold source offsets and operator state snapshots; keep
    the directory across restarts (and delete it to start from scratch).
    """
    directory = Path(directory)
    if not any(directory.glob("part-*.sqlite3")):
        directory.mkdir(parents=True, exist_ok=True)
        init_db_dir(directory, partitions)
    return RecoveryConfig(str(directory))


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
    created if missing. `pairflow ingest` is the usual entry point; this one
    serves Bytewax's own multi-process launcher.
    """
    from pairflow.storage import connect
    from sinks.clickhouse import ClickHouseSink
    from sinks.dead_letter import DeadLetterSink
    from sources.kafka_source import market_data_source

    settings = StorageSettings(dsn=dsn, spill_dir=Path(dead_letter_dir).parent / "spill")
    with connect(settings) as store:
        store.init_schema()
    return build_ingest_flow(
        market_data_source(brokers.split(","), tail=tail),
        ClickHouseSink(settings, partitions=workers),
        DeadLetterSink(Path(dead_letter_dir)),
    )
