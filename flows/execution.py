"""The execution stage: Signals and market events in; intents, orders, fills, PnL, risk and alerts out.

::

    signals (pair, [Signal]) ─┐
                              ├─► ("desk", [event]) ─► Desk (netting → sizing → risk → router → venue;
    market (coin, [Bar |      │                             fills and funding from the user stream → PnL, VaR)
            BookSnapshot |  ──┘                          ─► (key, [OrderIntent | Order | Fill | FundingPayment |
            Funding | ...])                                     Pnl | RiskMetric | Position | Alert]) ─► ClickHouse
                                                                                           └─► Alert ─► Alertmanager

One desk holds the whole account (netting is per coin across spreads), so the
stage is keyed by one key. The desk is built by a factory the composition
root passes in -- the router against the venue or the exchange, or the
backtest's simulated executor -- and reconciles with the account before its
first batch. Its pure state is the recovery snapshot; the router and the
account's user stream (WebSocket, REST as fallback) are rebuilt.
In a single-process run the desk's alerts go straight to the alert sink
(`flows.alerts.route_alerts`); there is no broker to carry ``pf.alerts``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream, operator
from bytewax.inputs import Source

from flows.alerts import route_alerts
from flows.ingest import IngestStreams, bars_from_topic
from flows.strategy import strategy_stage, with_rescans
from pairflow.config import Settings
from pairflow.control import Control
from pairflow.events import (
    TOPIC_OF,
    Alert,
    Bar,
    BookSnapshot,
    Event,
    FeeSchedule,
    Fill,
    Funding,
    FundingPayment,
    Order,
    OrderIntent,
    Pnl,
    Position,
    RiskMetric,
    Signal,
)
from sinks.clickhouse import ClickHouseSink
from sinks.desk import Desk
from sinks.topic import TopicSink

# What an execution dataflow of its own reads, and the topics its desk's events go to. The time-ordered source
# releases equal event times in this order, so a signal comes after the market data of its own ms.
EXECUTION_INPUTS: tuple[str, ...] = tuple(TOPIC_OF[kind] for kind in (Bar, BookSnapshot, Funding, FeeSchedule, Signal))
EXECUTION_OUTPUTS: tuple[str, ...] = tuple(
    TOPIC_OF[kind] for kind in (OrderIntent, Order, Fill, FundingPayment, Pnl, Position, RiskMetric, Alert)
)

__all__ = ["EXECUTION_INPUTS", "EXECUTION_OUTPUTS", "chain_trading", "execution_dataflow", "execution_stage"]


class _DeskLogic(op.StatefulBatchLogic):
    def __init__(self, build: Callable[[], Desk], resume_state: Any, ordered: bool = False) -> None:
        self.ordered = ordered
        self.desk = build()
        if resume_state is not None:
            self.desk.restore(resume_state)
        self.pending: list[Event] = self.desk.reconcile()

    def on_batch(self, values: list[list[Event]]) -> tuple[list[list[Event]], bool]:
        out, self.pending = self.pending + self.desk.on_events([e for events in values for e in events],
                                                                     ordered=self.ordered), []
        return ([out] if out else []), op.StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[list[list[Event]], bool]:
        # The input ended (shutdown): cancel what is still open, then count the last fills and funding.
        out, self.pending = self.pending + self.desk.shutdown(), []
        return ([out] if out else []), op.StatefulBatchLogic.RETAIN

    def snapshot(self) -> Any:
        return self.desk.snapshot()


@operator
def execution_stage(step_id: str, signals: Stream[tuple[str, list[Any]]],
                    market: Stream[tuple[str, list[Any]]] | None, build_desk: Callable[[], Desk]
                    ) -> Stream[tuple[str, list[Event]]]:
    """Trade the signals: returns ``("desk", [event, ...])`` items for the ClickHouse sink (and topics).

    ``market`` None: ``signals`` carries the market events too, already in
    the order to trade them (a time-ordered source decoded in record order,
    `execution_dataflow`), which one stream keeps on the way to the desk; the
    desk takes them as they come (`sinks.desk.Desk.on_events`), so its
    decisions do not depend on where the batches were cut. Two merged streams
    keep no order between them: the desk sorts each batch.
    """
    merged = signals if market is None else op.merge("merge", signals, market)
    # (key, [event]) -> ("desk", [event])
    keyed = op.map("to_desk", merged, lambda item: ("desk", item[1]))
    return op.stateful_batch("desk", keyed, lambda state: _DeskLogic(build_desk, state, ordered=market is None))


def chain_trading(spreads: list[tuple[str, ...]], settings: Settings, build_desk: Callable[[], Desk],
                  control: Control | None = None, rescans: Source | None = None) -> Callable[[IngestStreams], None]:
    """Return the ingest stage's ``then`` hook running strategy and execution in the same dataflow.

    ``control`` (the API's, in this process) retunes the running spreads; the
    desk reads its own reference to it from ``build_desk``. ``rescans`` (an
    in-process rescan's `PairStats`, `app.runners.rescans.PeriodicRescan`)
    reach the strategy's router the way ``pf.pair_stats`` does in broker mode.
    """

    def wire(streams: IngestStreams) -> None:
        market = op.merge("strategy_market", streams.events, streams.snapshots)
        # Only the strategy reads a rescan's PairStats: the desk has no use for a scan.
        found = market if rescans is None else with_rescans("rescans", market, rescans)
        signals = strategy_stage("strategy", streams.bars, spreads, settings.strategy, market=found, control=control)
        op.output("store_signals", signals, ClickHouseSink(settings.storage))
        prices = op.merge("execution_market", streams.bars, market)
        trading = execution_stage("execution", signals, prices, build_desk)
        op.output("store_trading", trading, ClickHouseSink(settings.storage))
        route_alerts("alertmanager", trading, settings.alerting)

    return wire


def execution_dataflow(settings: Settings, source: Source, build_desk: Callable[[], Desk]) -> Dataflow:
    """Build execution as a dataflow of its own (distributed mode): signals and market topics in, desk events out.

    ``source`` reads `EXECUTION_INPUTS` in event-time order
    (`sources.time_ordered_source` with its ``ORDER_WINDOW``, as the strategy's), so the
    desk sees each signal after the bars it was computed from; the records are
    decoded into one group in record order and traded in exactly that order,
    so the order intents are a function of the topics' contents (and of the
    fills, which the venue's market decides). Every event the desk makes is published on its
    topic (`EXECUTION_OUTPUTS`) for the store-writer and the alert relay; this
    dataflow opens no store. One desk holds the account, so it runs on one
    worker of one process: one nonce counter and one cloid journal per signer.
    """
    flow = Dataflow("execution")
    # (topic, bytes, partition, offset)
    raw = op.input("input", flow, source)
    # ("in-order", [Signal | Bar | BookSnapshot | Funding | FeeSchedule in record order])
    events = bars_from_topic("decode", raw, one_group="in-order")
    trading = execution_stage("execution", events, None, build_desk)
    op.output("publish", trading, TopicSink(settings.broker, EXECUTION_OUTPUTS))
    return flow
