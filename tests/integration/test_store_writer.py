"""The store-writer stage over a real broker: stages publish only topics, the store-writer stores them once.

`pairflow run ingest` publishes bars and book snapshots and opens no store;
`pairflow run store-writer` stores the collector's topics and what the stages
published, and a SIGKILL of the writer mid-stream costs no row and adds no
duplicate to the ``_v`` views.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.decode import DEAD_LETTER_KEY
from flows.store_writer import STORED_TOPICS, split_storable
from pairflow.events import TOPIC_OF, Bar, BookSnapshot, Signal, encode
from pairflow.storage import Store, connect
from sinks.dead_letter import read_dead_letters
from tests.broker import TansuBroker, consume_all
from tests.helpers import free_port
from tests.integration.ingest_support import (
    MALFORMED,
    assert_exactly_once,
    chdb_settings,
    create_topics,
    make_tape,
    produce,
    sigkill_mid_stream,
    start_pairflow,
)
from tests.integration.strategy_cli_support import LEGS, signals_by_hand, strategy_bars
from tests.strategy_support import cointegrated_bars

pytestmark = pytest.mark.broker


def run_stage(tmp_path: Path, stage: str, *arguments: str, metrics_port: int = 0):
    """Start ``pairflow run STAGE`` with its dead letters in ``tmp_path/dead-<stage>``."""
    return start_pairflow(
        tmp_path, "run", stage, "--dead-letter-dir", str(tmp_path / f"dead-{stage}"), *arguments,
        metrics_port=metrics_port,
    )


def finish(process, tmp_path: Path, timeout: float = 120) -> None:
    assert process.wait(timeout=timeout) == 0, (tmp_path / "run.log").read_text()[-3_000:]


def copies_per_id(store: Store, table: str) -> dict[str, int]:
    """Return how many rows the deduplicated view ``<table>_v`` holds per id."""
    return {row[0]: int(row[1]) for row in store.query(f"SELECT id, count() FROM {table}_v GROUP BY id")}


def test_stages_publish_topics_and_the_writer_stores_them_once(tansu_broker_fn: TansuBroker, tmp_path: Path) -> None:
    create_topics(tansu_broker_fn)
    tape = make_tape(6_000, seed=5)
    produce(tansu_broker_fn, tape.messages)
    brokers = ("--brokers", tansu_broker_fn.bootstrap_servers, "--until-end")

    finish(run_stage(tmp_path, "ingest", *brokers, "--workers", "2"), tmp_path)
    assert not (tmp_path / "chdb").exists(), "ingest opened the store"
    snapshots = {
        msgspec.json.decode(message.value(), type=BookSnapshot).id
        for message in consume_all(tansu_broker_fn, TOPIC_OF[BookSnapshot], 1)
    }

    finish(run_stage(tmp_path, "store-writer", *brokers), tmp_path)
    with connect(chdb_settings(tmp_path)) as store:
        assert_exactly_once(store, tape.trades)
        assert copies_per_id(store, "l2_snapshots") == dict.fromkeys(snapshots, 1)
    # The junk on md.trades is a dead letter of both stages that read it, stored by neither.
    for stage in ("ingest", "store-writer"):
        letters = read_dead_letters(tmp_path / f"dead-{stage}")
        assert sorted(letter["raw"] for letter in letters) == sorted(
            junk.decode("utf-8", errors="replace") for junk in MALFORMED
        )


def test_ctrl_c_stops_run_ingest_cleanly(tansu_broker_fn: TansuBroker, tmp_path: Path) -> None:
    """SIGINT ends the tailing stage with exit 0 and a quiet log: no Rust panic stack, no traceback."""
    create_topics(tansu_broker_fn)
    process = run_stage(tmp_path, "ingest", "--brokers", tansu_broker_fn.bootstrap_servers)
    try:
        produce(tansu_broker_fn, make_tape(500, seed=5, with_junk=False).messages)
        consume_all(tansu_broker_fn, TOPIC_OF[Bar], 1, timeout=90)  # the flow is running: it published a bar
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    log = (tmp_path / "run.log").read_text()
    assert "panic" not in log.lower() and "Traceback" not in log, log[-3_000:]


def produce_slowly(broker: TansuBroker, messages: list[tuple[str, bytes, bytes]]) -> None:
    """Keep records coming (about 2,500 a second) while the writer is killed."""
    for start in range(0, len(messages), 500):
        produce(broker, messages[start : start + 500])
        time.sleep(0.2)


def test_sigkill_of_the_store_writer_mid_stream_loses_and_duplicates_nothing(
    tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    create_topics(tansu_broker_fn)
    tape = make_tape(12_000, seed=13)
    bars = strategy_bars(tansu_broker_fn, 150, seed=17)
    signals = signals_by_hand(bars)
    assert signals, "the bars gave no signal to store"
    records = [record for record in tape.messages if record[0] != "md.l2"] + bars
    records += [(TOPIC_OF[Signal], signal_.pair.encode(), encode(signal_)) for signal_ in signals]
    head = len(records) // 10
    produce(tansu_broker_fn, records[:head])
    producer = threading.Thread(target=produce_slowly, args=(tansu_broker_fn, records[head:]))
    recovery, port = tmp_path / "recovery", free_port()
    common = ("--brokers", tansu_broker_fn.bootstrap_servers, "--recovery-dir", str(recovery),
              "--snapshot-interval", "0.2", "--workers", "2")
    first = run_stage(tmp_path, "store-writer", *common, metrics_port=port)
    stored_at_kill = sigkill_mid_stream(first, producer, recovery, port, 2_000)
    assert stored_at_kill < len(tape.trades), "the writer had stored everything before the kill"

    finish(run_stage(tmp_path, "store-writer", *common, "--until-end"), tmp_path)
    with connect(chdb_settings(tmp_path)) as store:
        assert copies_per_id(store, "trades") == dict.fromkeys((trade.id for trade in tape.trades), 1)
        assert copies_per_id(store, "bars_1m") == dict.fromkeys(
            (bar.id for bar in cointegrated_bars(LEGS, 150, seed=17)), 1
        )
        assert copies_per_id(store, "signals") == dict.fromkeys((signal_.id for signal_ in signals), 1)


_BAR = Bar(id="b", coin="BTC", ts=1, interval="1m", open=1.0, high=1.0, low=1.0, close=1.0, volume=0.0,
           notional=0.0, vwap=1.0, trades=1, buy_volume=0.0, sell_volume=0.0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["1s", "1m", "5m", "", "1h"]), st.sampled_from(["BTC", "ETH"])), max_size=12))
def test_only_events_a_table_stores_reach_the_sink(bars: list[tuple[str, str]]) -> None:
    items = [(coin, [msgspec.structs.replace(_BAR, interval=interval, coin=coin)]) for interval, coin in bars]
    out = split_storable(items)
    kept = [event for key, group in out if key != DEAD_LETTER_KEY for event in group]
    letters = [letter for key, group in out if key == DEAD_LETTER_KEY for letter in group]
    assert [event.interval for event in kept] == [interval for interval, _ in bars if interval in ("1s", "1m")]
    assert len(letters) == len(bars) - len(kept)
    assert all(letter.topic == "md.bars" and "no table stores bars" in letter.error for letter in letters)


def test_every_stored_event_type_has_a_topic_the_writer_reads() -> None:
    assert "md.l2" not in STORED_TOPICS
    assert {"md.trades", "md.bars", "md.books", "pf.signals", "pf.fills", "pf.orders"} <= set(STORED_TOPICS)
