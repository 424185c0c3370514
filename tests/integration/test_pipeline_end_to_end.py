"""The whole market-data pipeline with real parts: venue → collector → tansu → Bytewax ingest → chDB.

Trades are made on the local venue's engine (ETH and SOL, both sides, varied
sizes across several price levels, spread over seconds and minutes by stepping
the shared clock). The collector streams them over the venue's WebSocket into
the KafkaSink; the ingest flow then reads every market-data topic to its end
and writes to chDB. What is stored must be exactly the venue's own trade tape,
and the bars must equal a batch computation over that tape.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from bytewax.testing import run_main

from flows.ingest import build_ingest_flow
from pairflow.config import BrokerSettings
from pairflow.events import Trade
from pairflow.storage import connect
from sinks.clickhouse import ClickHouseSink
from sinks.dead_letter import DeadLetterSink, read_dead_letters
from sinks.kafka import KafkaSink
from sources.collector import Collector
from sources.kafka_source import market_data_source
from tests.broker import TansuBroker
from tests.helpers import eventually
from tests.integration.ingest_support import assert_exactly_once, chdb_settings
from tests.integration.venue_support import (
    MAKER,
    MINUTE_MS,
    TAKER,
    RunningCollector,
    SteppableClock,
    collector_settings,
    subscribed,
)
from venue.engine import Engine, Filled, Limit, OrderRequest, Resting, Tif

pytestmark = pytest.mark.broker

COINS = {"ETH": 1, "SOL": 2}  # coin -> asset index on the venue
# Maker quotes per coin, (is_buy, price, size), in front of the venue fixture's 50 ETH ask at 2001;
# takers sweep into them with Ioc orders.
QUOTES = {
    "ETH": [(False, "2000", "0.6"), (False, "2000.5", "0.8"),
            (True, "1999", "0.6"), (True, "1998", "0.8"), (True, "1996.5", "50")],
    "SOL": [(False, "150.5", "3"), (False, "151.25", "4"), (False, "152", "500"),
            (True, "149.5", "3"), (True, "148.75", "4"), (True, "148", "500")],
}
TAKER_LIMITS = {"ETH": ("2010", "1990"), "SOL": ("155", "145")}
SIZES = {"ETH": ("0.01", "0.05", "0.12", "0.3"), "SOL": ("0.1", "0.5", "1.25", "2")}


def _quote(engine: Engine) -> None:
    with engine.lock:
        for coin, asset in COINS.items():
            for is_buy, px, sz in QUOTES[coin]:
                (status,) = engine.place_orders(MAKER, [OrderRequest(asset, is_buy, px, sz, False,
                                                                     Limit(Tif.GTC))])
                assert isinstance(status, Resting), status


def _take(engine: Engine, rng: random.Random, count: int) -> None:
    with engine.lock:
        for _ in range(count):
            coin = rng.choice(tuple(COINS))
            is_buy = rng.random() < 0.5
            limit = TAKER_LIMITS[coin][0 if is_buy else 1]
            order = OrderRequest(COINS[coin], is_buy, limit, rng.choice(SIZES[coin]), False,
                                 Limit(Tif.IOC))
            (status,) = engine.place_orders(TAKER, [order])
            assert isinstance(status, Filled), status


def _advance(engine: Engine, clock: SteppableClock, ms: int) -> None:
    """Move the shared clock forward and wait until the venue's engine has reached it."""
    clock.step(ms)
    target = clock()
    eventually(lambda: engine.now_ms >= target)


def _as_event(wire: dict) -> Trade:
    """Turn a trade as the venue published it into the event it stands for (independently of the collector)."""
    return Trade(id=f"{wire['coin']}:{wire['tid']}", coin=wire["coin"], ts=wire["time"], recv_ts=wire["time"],
                 px=float(wire["px"]), sz=float(wire["sz"]), side=wire["side"], tid=wire["tid"],
                 hash=wire["hash"])


def test_venue_trades_reach_clickhouse_exactly_once_with_bars_equal_to_the_venue_tape(
    venue, tansu_broker: TansuBroker, tmp_path: Path
) -> None:
    engine, url, clock, tape = venue
    _quote(engine)
    rng = random.Random(5)
    sink = KafkaSink(BrokerSettings(bootstrap_servers=tansu_broker.bootstrap_servers, partitions=2))
    running = RunningCollector(Collector(sink.emit, collector_settings(url, coins=list(COINS)), clock=clock))
    try:
        eventually(lambda: subscribed(running.collector))
        for step in range(24):
            _take(engine, rng, rng.randrange(1, 6))
            _advance(engine, clock, MINUTE_MS if step % 8 == 7 else rng.choice((150, 400, 900, 1_300)))
        made = list(tape.trades)
        eventually(lambda: running.collector.out.events_out["md.trades"] >= len(made))
    finally:
        running.stop()
    assert sink.close(20) == 0
    assert running.collector.out.events_out["md.trades"] == len(made)

    venue_trades = [_as_event(wire) for wire in made]
    assert {t.coin for t in venue_trades} == set(COINS) and {t.side for t in venue_trades} == {"A", "B"}
    assert len({t.px for t in venue_trades}) > 4 and len({t.sz for t in venue_trades}) > 4
    assert len({t.ts // MINUTE_MS for t in venue_trades}) >= 3

    settings = chdb_settings(tmp_path)
    with connect(settings) as store:
        store.init_schema()
    flow = build_ingest_flow(
        market_data_source([tansu_broker.bootstrap_servers], tail=False),
        ClickHouseSink(settings),
        DeadLetterSink(tmp_path / "dead"),
    )
    run_main(flow)

    with connect(settings) as store:
        stored = store.query("SELECT id, coin, tid, px, sz, side, ts FROM trades FINAL ORDER BY tid")
        assert [tuple(row) for row in stored] == [
            (t.id, t.coin, t.tid, t.px, t.sz, t.side, t.ts) for t in sorted(venue_trades, key=lambda t: t.tid)
        ]
        assert_exactly_once(store, venue_trades)
    assert read_dead_letters(tmp_path / "dead") == []
