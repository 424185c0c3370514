"""The strategy as its own dataflow: md.bars from a real tansu broker, signals to chDB and pf.signals."""

from __future__ import annotations

from pathlib import Path

import bytewax.operators as op
import msgspec
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, run_main

from flows.decode import decode_batch
from flows.strategy import STRATEGY_TOPICS, strategy_dataflow
from operators.spread_strategy import SpreadStrategy
from pairflow.config import BrokerSettings, Settings, StrategySettings
from pairflow.events import Signal, encode
from pairflow.storage import connect
from pairflow.topics import TopicSpec, ensure_topics
from sources.kafka_source import market_data_source
from sources.time_ordered_source import time_ordered_source
from tests.broker import TansuBroker
from tests.integration.ingest_support import chdb_settings, produce
from tests.strategy_support import cointegrated_bars

pytestmark = pytest.mark.broker

LEGS = ("ETH", "SOL")


def test_signals_from_md_bars_reach_the_table_and_pf_signals(tansu_broker_fn: TansuBroker, tmp_path: Path) -> None:
    broker = tansu_broker_fn
    ensure_topics(broker.admin(), [TopicSpec(name, 2) for name in (*STRATEGY_TOPICS, "pf.signals")])
    bars = cointegrated_bars(LEGS, 150, seed=31)
    # Keyed by coin, so each leg keeps its order within its partition; the source merges them by event time.
    produce(broker, [("md.bars", b.coin.encode(), encode(b)) for b in bars])

    settings = Settings(
        storage=chdb_settings(tmp_path),
        broker=BrokerSettings(bootstrap_servers=broker.bootstrap_servers, partitions=2),
        # No leg hold (reorder_ms): the event-time ordered source alone must align the legs.
        strategy=StrategySettings(warmup_rows=30, zscore_window=30, heartbeat_rows=20, entry_z=1.5),
    )
    with connect(settings.storage) as store:
        store.init_schema()
        source = time_ordered_source([broker.bootstrap_servers], STRATEGY_TOPICS, tail=False)
        run_main(strategy_dataflow(settings, [LEGS], source))
        stored = [msgspec.convert(row, Signal) for row in store.select("signals", order_by="ts")]

    expected = SpreadStrategy(LEGS, settings.strategy)
    wanted = [out for b in bars for out in expected.update(b) if isinstance(out, Signal)]
    wanted += [out for out in expected.flush() if isinstance(out, Signal)]
    assert wanted and stored == wanted
    assert all(s.features["cost"] == pytest.approx(2 * (0.00045 + 0.0002) * (1 + abs(s.hedge_ratio))) for s in stored)

    flow = Dataflow("read_signals")
    received: list = []
    raw = op.input("pf_signals", flow, market_data_source([broker.bootstrap_servers], ("pf.signals",), tail=False))
    op.output("signals", op.flat_map_batch("decode", raw, decode_batch), TestingSink(received))
    run_main(flow)
    published = sorted((s for _, batch in received for s in batch), key=lambda s: s.ts)
    assert published == wanted
