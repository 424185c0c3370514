"""The strategy as its own dataflow: md.bars from a real tansu broker, signals to chDB and pf.signals."""

from __future__ import annotations

from pathlib import Path

import bytewax.operators as op
import msgspec
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, run_main
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenGuard
from api.context import ApiContext
from app.runners.api import params_publisher
from flows.decode import decode_batch
from flows.strategy import STRATEGY_TOPICS, strategy_dataflow
from operators.spread_strategy import SpreadStrategy
from pairflow.config import BrokerSettings, Settings, StrategySettings
from pairflow.events import TOPIC_OF, BookSnapshot, FeeSchedule, PairStats, Signal, StrategyParams, encode
from pairflow.control import Control
from pairflow.storage import Store, connect
from pairflow.topics import TopicSpec, ensure_topics
from sources.kafka_source import market_data_source
from sources.time_ordered_source import time_ordered_source
from tests.broker import TansuBroker, consume_all
from tests.integration.ingest_support import chdb_settings, produce
from tests.strategy_support import cointegrated_bars

pytestmark = pytest.mark.broker

LEGS = ("ETH", "SOL")


@pytest.fixture
def strategy_broker(tansu_broker_fn: TansuBroker) -> TansuBroker:
    """A fresh broker with the topics a standalone strategy reads and writes."""
    ensure_topics(tansu_broker_fn.admin(), [TopicSpec(name, 2) for name in (*STRATEGY_TOPICS, "pf.signals")])
    return tansu_broker_fn


def run_strategy(broker: TansuBroker, tmp_path: Path, strategy: StrategySettings) -> tuple[Settings, list[Signal]]:
    """Run the strategy dataflow on ETH/SOL over every record on the broker; return its settings and stored signals."""
    settings = Settings(
        storage=chdb_settings(tmp_path),
        broker=BrokerSettings(bootstrap_servers=broker.bootstrap_servers, partitions=2),
        strategy=strategy,
    )
    with connect(settings.storage) as store:
        store.init_schema()
        source = time_ordered_source([broker.bootstrap_servers], STRATEGY_TOPICS, tail=False)
        run_main(strategy_dataflow(settings, [LEGS], source))
        return settings, [msgspec.convert(row, Signal) for row in store.select("signals", order_by="ts")]


def test_signals_from_md_bars_reach_the_table_and_pf_signals(strategy_broker: TansuBroker, tmp_path: Path) -> None:
    broker = strategy_broker
    bars = cointegrated_bars(LEGS, 150, seed=31)
    # Keyed by coin, so each leg keeps its order within its partition; the source merges them by event time.
    produce(broker, [("md.bars", b.coin.encode(), encode(b)) for b in bars])

    # No leg hold (reorder_ms): the event-time ordered source alone must align the legs.
    settings, stored = run_strategy(
        broker, tmp_path, StrategySettings(warmup_rows=30, zscore_window=30, heartbeat_rows=20, entry_z=1.5)
    )

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


def book(coin: str, ts: int, mid: float, imbalance: float) -> BookSnapshot:
    return BookSnapshot(id=f"{coin}:{ts}", coin=coin, ts=ts, bid_px=(mid * 0.995,), bid_sz=(1.0,), ask_px=(mid * 1.005,),
                        ask_sz=(1.0,), mid=mid, spread_bps=100.0, imbalance=imbalance)


def test_book_snapshots_and_fees_from_their_topics_set_the_costs_and_imbalance(
    strategy_broker: TansuBroker, tmp_path: Path
) -> None:
    broker = strategy_broker
    bars = cointegrated_bars(LEGS, 150, seed=32)
    middle = bars[150].ts + 1  # after row 75: signals before it use the configured costs, after it the books
    market = [book("ETH", middle, bars[150].close, 0.4), book("SOL", middle, bars[151].close, -0.2),
              FeeSchedule(id="fees", ts=middle, taker=0.0003, maker=0.0001)]
    produce(broker, [(TOPIC_OF[type(e)], e.coin.encode(), encode(e)) for e in market])
    produce(broker, [("md.bars", b.coin.encode(), encode(b)) for b in bars])

    settings, stored = run_strategy(broker, tmp_path, StrategySettings(
        warmup_rows=30, zscore_window=30, heartbeat_rows=5, entry_z=1.5, notional_usd=50.0
    ))

    by_hand = SpreadStrategy(LEGS, settings.strategy)
    wanted = [out for e in sorted(bars + market, key=lambda e: e.ts) for out in by_hand.update(e) if isinstance(out, Signal)]
    assert stored == wanted
    after = [s for s in stored if s.ts > middle]
    assert after and all(s.features["imbalance"] == pytest.approx(0.6) for s in after)
    # fees 0.03 % + half-spread 0.5 % per leg and side, over the hedged notional
    assert all(s.features["cost"] == pytest.approx(2 * (0.0003 + 0.005) * (1 + abs(s.hedge_ratio))) for s in after)
    assert all("imbalance" not in s.features for s in stored if s.ts <= middle)


def test_a_rescan_published_on_pf_pair_stats_adds_its_spread_to_the_running_strategy(
    strategy_broker: TansuBroker, tmp_path: Path
) -> None:
    broker = strategy_broker
    bars = cointegrated_bars(("ETH", "SOL", "AVAX"), 160, seed=33)
    middle = bars[len(bars) // 3].ts + 1
    rescan = PairStats(id="rescan:ETH/AVAX", ts=middle, pair="ETH/AVAX", coin_a="ETH", coin_b="AVAX", window_start=0,
                       window_end=middle, correlation=0.9, hedge_ratio=1.5, eg_pvalue=0.001, coins=("ETH", "AVAX"),
                       accepted=True)
    produce(broker, [("pf.pair_stats", rescan.pair.encode(), encode(rescan))])
    produce(broker, [("md.bars", b.coin.encode(), encode(b)) for b in bars])

    settings, stored = run_strategy(
        broker, tmp_path, StrategySettings(warmup_rows=30, zscore_window=30, heartbeat_rows=10, entry_z=1.5)
    )

    added = SpreadStrategy(("ETH", "AVAX"), settings.strategy)
    wanted = [out for b in bars if b.ts > middle and b.coin != "SOL" for out in added.update(b) if isinstance(out, Signal)]
    assert wanted and [s for s in stored if s.pair == "ETH/AVAX"] == wanted
    assert {s.pair for s in stored} == {"ETH/SOL", "ETH/AVAX"}


def test_a_parameter_change_on_pf_params_retunes_the_running_strategy_at_its_event_time(
    strategy_broker: TansuBroker, tmp_path: Path
) -> None:
    broker = strategy_broker
    bars = cointegrated_bars(LEGS, 200, seed=35)
    change = StrategyParams(id="change-1", ts=bars[len(bars) // 3].ts + 1, entry_z=19.0, stop_z=40.0)
    refused = StrategyParams(id="change-2", ts=bars[len(bars) // 2].ts + 1, exit_z=30.0)  # disorders the bands
    produce(broker, [("pf.params", b"strategy", encode(change)), ("pf.params", b"strategy", encode(refused))])
    produce(broker, [("md.bars", b.coin.encode(), encode(b)) for b in bars])

    settings, stored = run_strategy(
        broker, tmp_path, StrategySettings(warmup_rows=30, zscore_window=30, heartbeat_rows=20, entry_z=1.0)
    )

    by_hand = SpreadStrategy(LEGS, settings.strategy)
    in_time = sorted([*bars, change, refused], key=lambda event: event.ts)
    wanted = [out for event in in_time for out in by_hand.update(event) if isinstance(out, Signal)]
    assert stored == wanted and by_hand.entry_z == 19.0 and by_hand.exit_z == settings.strategy.exit_z
    assert [s for s in stored if s.ts < change.ts and s.reason.startswith("entry")], "entries before the change"
    assert not [s for s in stored if s.ts > change.ts and s.reason.startswith("entry")]


def test_the_api_publishes_accepted_parameter_changes_on_pf_params_and_changes_nothing_when_it_cannot(
    tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    broker = tansu_broker_fn
    ensure_topics(broker.admin(), [TopicSpec("pf.params", 2)])
    auth = {"Authorization": "Bearer " + "p" * 24}

    def client(settings: BrokerSettings, control: Control, store: Store) -> TestClient:
        ctx = ApiContext(store=store, settings=Settings(), guard=TokenGuard("p" * 24), control=control,
                         publish_params=params_publisher(settings))
        return TestClient(create_app(ctx))

    with connect(chdb_settings(tmp_path)) as store:
        store.init_schema()
        control = Control()
        with client(BrokerSettings(bootstrap_servers=broker.bootstrap_servers), control, store) as api:
            assert api.post("/api/controls/params", json={"entry_z": 2.5, "notional_usd": 500.0}, headers=auth).status_code == 200
            assert api.post("/api/controls/params", json={"entry_z": 0.1}, headers=auth).status_code == 422
        (message,) = consume_all(broker, "pf.params", 1)
        published = msgspec.json.decode(message.value(), type=StrategyParams)
        assert (published.entry_z, published.notional_usd, published.exit_z) == (2.5, 500.0, None)
        assert message.key() == b"strategy" and control.tuning().values == {"entry_z": 2.5, "notional_usd": 500.0}

        down = BrokerSettings(bootstrap_servers="127.0.0.1:9", delivery_timeout_ms=1500)
        unchanged = Control()
        with client(down, unchanged, store) as api:
            answer = api.post("/api/controls/params", json={"entry_z": 3.0}, headers=auth)
            assert answer.status_code == 503 and "not delivered to pf.params" in answer.json()["detail"]
            assert api.get("/api/config").json()["strategy"]["entry_z"] == 2.0 and unchanged.tuning().version == 0
            assert api.get("/api/audit", params={"limit": 1}).json()["items"][0]["outcome"] == "refused"
