"""``pairflow run strategy`` gives the same pf.signals on 1 process and on a 2-process cluster, from md.* alone.

The topics hold what a backlogged ingest publishes, not a tidy sequence: two
coins share an md.bars partition, written in runs of one coin's bars after the
other's (longer than a spread holds a leg for the other), corrections follow
newer bars of their coin, and book snapshots share the bars' timestamps. Read
from such topics, the stage once routed each fetched batch after sorting it,
so the signals depended on where the fetches and Bytewax's exchange cut the
batches: 1,883 vs 1,885 signals with different ids on the same md.bars in the
cluster benchmark, and two 1-process runs differed too. Both runs here must
publish exactly the signals of the pure pieces fed the topics' contents.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from confluent_kafka import Producer

from app.commands.strategy import HOLD_BARS
from flows.decode import decode_batch
from flows.strategy import STRATEGY_TOPICS
from operators.spread_strategy import SpreadStrategy
from pairflow.config import StrategySettings
from pairflow.events import Bar, BookSnapshot, Signal, encode
from pairflow.topics import TopicSpec, ensure_topics
from sources.event_time_merge import EventTimeMerge
from sources.time_ordered_source import ORDER_WINDOW, time_ordered_source
from tests.broker import TansuBroker, consume_to_end
from tests.helpers import free_port
from tests.integration.ingest_support import start_pairflow
from tests.integration.strategy_cli_support import STRATEGY_ENV
from tests.strategy_support import cointegrated_bars, corrected_legs

pytestmark = pytest.mark.broker

SPREADS = (("ETH", "SOL"), ("BTC", "ETH"))
ENV = {**STRATEGY_ENV, "PAIRFLOW_STRATEGY__ANOMALY_GATE": "true", "PAIRFLOW_STRATEGY__RELATION_BREAK": "true"}
RUN = 150  # bars of one coin written before the other's: 2.5 times the 60 bars a spread holds a leg


def book(coin: str, bar: Bar) -> BookSnapshot:
    return BookSnapshot(id=f"{coin}:book:{bar.ts}", coin=coin, ts=bar.ts, bid_px=(bar.close * 0.999,), bid_sz=(2.0,),
                        ask_px=(bar.close * 1.001,), ask_sz=(1.0,), mid=bar.close, spread_bps=20.0, imbalance=0.3)


def topic_contents() -> dict[tuple[str, int], list[bytes]]:
    """Return each (topic, partition)'s records in offset order, as a backlogged ingest could have written them."""
    eth, sol, btc = corrected_legs(cointegrated_bars(("ETH", "SOL", "BTC"), 600, seed=5))
    shared: list[Bar] = []  # md.bars partition 0: ETH and SOL in alternating runs, SOL one run behind
    for start in range(0, max(len(eth), len(sol)) + RUN, RUN):
        shared += eth[start:start + RUN] + sol[max(start - RUN, 0):start]
    books = [book(bar.coin, bar) for bar in eth if bar.trades == 1][::10]
    return {("md.bars", 0): [encode(bar) for bar in shared], ("md.bars", 1): [encode(bar) for bar in btc],
            ("md.books", 0): [encode(snapshot) for snapshot in books]}


def load(broker: TansuBroker, contents: dict[tuple[str, int], list[bytes]]) -> None:
    ensure_topics(broker.admin(), [TopicSpec(name, 2) for name in (*STRATEGY_TOPICS, "pf.signals")])
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "enable.idempotence": True})
    for (topic, partition), values in contents.items():
        for value in values:
            producer.produce(topic, value, partition=partition)
        producer.poll(0)
    assert producer.flush(30) == 0


def signals_by_hand(contents: dict[tuple[str, int], list[bytes]]) -> dict[str, list[Signal]]:
    """Return each spread's signals from the pure pieces: the source's merge, the decoder, one strategy per spread."""
    keys = [f"{partition}-{topic}" for topic in STRATEGY_TOPICS for partition in (0, 1)]
    merge = EventTimeMerge(keys, cap=2 * ORDER_WINDOW, window=ORDER_WINDOW)
    for (topic, partition), values in contents.items():
        for offset, value in enumerate(values):
            ts = msgspec.json.decode(value)["ts"]
            merge.add(f"{partition}-{topic}", offset, ts, (topic, value, partition, offset))
    for key in keys:
        merge.at_end(key)
    [(_, events)] = decode_batch(merge.release(now=0.0), one_group="in-order")
    settings = StrategySettings(**{key.split("__")[1].lower(): value for key, value in ENV.items()},
                                reorder_ms=HOLD_BARS * 60_000)
    expected = {}
    for legs in SPREADS:
        strategy = SpreadStrategy(legs, settings)
        outputs = [out for event in events if event.coin in legs for out in strategy.update(event)]
        expected["/".join(legs)] = [out for out in outputs + strategy.flush() if isinstance(out, Signal)]
    return expected


def published(broker: TansuBroker) -> dict[str, list[Signal]]:
    """Return pf.signals per spread, in the order they were published (one spread's signals share a partition)."""
    out: dict[str, list[Signal]] = {}
    for message in consume_to_end(broker, "pf.signals"):
        signal = msgspec.json.decode(message.value(), type=Signal)
        out.setdefault(signal.pair, []).append(signal)
    return out


def run(tmp_path: Path, broker: TansuBroker, processes: int) -> dict[str, list[Signal]]:
    tmp_path.mkdir()
    cluster: tuple[str, ...] = ()
    if processes > 1:
        cluster = ("--cluster", ",".join(f"127.0.0.1:{free_port()}" for _ in range(processes)))
    members = [
        start_pairflow(tmp_path, "run", "strategy", "--pairs", ",".join("/".join(legs) for legs in SPREADS),
                       "--brokers", broker.bootstrap_servers, "--until-end", "--dead-letter-dir",
                       str(tmp_path / "dead"), *cluster, *(("-i", str(index)) if cluster else ()), extra_env=ENV)
        for index in range(processes)
    ]
    codes = [member.wait(timeout=120) for member in members]
    assert codes == [0] * processes, (tmp_path / "run.log").read_text()[-2_000:]
    return published(broker)


def test_one_process_and_a_cluster_publish_the_signals_of_the_topics_contents(tmp_path: Path) -> None:
    contents = topic_contents()
    expected = signals_by_hand(contents)
    assert all(len(signals) >= 10 for signals in expected.values()), "too few signals to compare"
    outputs = []
    for processes in (1, 2):
        with TansuBroker(log_path=tmp_path / f"broker-{processes}.log") as broker:
            load(broker, contents)
            outputs.append(run(tmp_path / f"run-{processes}", broker, processes))
    one, two = outputs
    assert two == one
    assert one == expected


def test_a_reader_resumed_from_its_snapshot_emits_the_rest_once_though_records_left_out_of_offset_order(
    tansu_broker_fn: TansuBroker,
) -> None:
    """The source's snapshot names the records a window released ahead of its resume offset: none comes twice."""
    load(tansu_broker_fn, topic_contents())

    def read(state, until=lambda out, snapshot: False) -> tuple[list, dict]:
        """Read from the snapshot ``state`` to the end or until ``until`` holds; return the records and the snapshot."""
        source = time_ordered_source([tansu_broker_fn.bootstrap_servers], STRATEGY_TOPICS, tail=False,
                                     batch_size=100, window=50)
        part = source.build_part("input", "all", state)
        out: list = []
        try:
            while not until(out, part.snapshot()):
                out += [(record[0], record[2], record[3]) for record in part.next_batch()]
        except StopIteration:
            pass
        finally:
            part.close()
        return out, part.snapshot()

    whole, _ = read(None)
    before, snapshot = read(None, until=lambda out, snapshot: len(out) > 300 and any(
        ahead for _, ahead in snapshot.values()))
    assert any(ahead for _, ahead in snapshot.values()), "no record was released ahead of a resume offset"
    assert before + read(snapshot)[0] == whole
    assert len(set(whole)) == len(whole) == sum(len(values) for values in topic_contents().values())
