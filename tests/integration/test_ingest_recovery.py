"""Crash and outage tests of the ingest command: SIGKILL mid-stream, broker restart.

The flow runs as a real ``pairflow ingest`` subprocess against a real tansu
broker and writes to chDB; the test only opens the chDB directory once that
process has exited (chDB allows one process per directory).
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from pairflow.storage import connect
from sinks.dead_letter import read_dead_letters
from tests.broker import TansuBroker
from tests.helpers import eventually, free_port
from tests.integration.ingest_support import (
    MALFORMED,
    Tape,
    assert_exactly_once,
    assert_published_bars_are_stored,
    chdb_settings,
    committed_epoch,
    create_topics,
    make_tape,
    produce,
    start_ingest,
    stop_ingest,
)
from tests.metrics_support import metric

pytestmark = pytest.mark.broker

def assert_dead_letters_are_the_junk(directory: Path) -> None:
    # The dead-letter file is at-least-once across a crash: dedupe by source position.
    letters = {(letter["partition"], letter["offset"]): letter["raw"] for letter in read_dead_letters(directory)}
    assert sorted(letters.values()) == sorted(junk.decode("utf-8", errors="replace") for junk in MALFORMED)


def _half_produced(broker: TansuBroker, tape: Tape) -> tuple[Tape, int]:
    """Create the topics and produce the first half of ``tape``'s messages; return it and where the half ends."""
    create_topics(broker)
    half = len(tape.messages) // 2
    produce(broker, tape.messages[:half])
    return tape, half


def test_sigkill_mid_stream_then_restart_loses_and_duplicates_nothing(
    tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    tape, half = _half_produced(tansu_broker_fn, make_tape(40_000, seed=11))
    recovery = tmp_path / "recovery"
    port = free_port()
    first = start_ingest(
        tmp_path,
        "--brokers",
        tansu_broker_fn.bootstrap_servers,
        "--recovery-dir",
        str(recovery),
        "--snapshot-interval",
        "0.2",
        metrics_port=port,
    )

    def produce_rest() -> None:
        rest = tape.messages[half:]
        for start in range(0, len(rest), 2_000):
            produce(tansu_broker_fn, rest[start : start + 2_000])

    def stored() -> float:
        return metric(port, "pairflow_ingest_messages_out_total", table="trades")

    producer = threading.Thread(target=produce_rest)
    producer.start()
    try:
        eventually(lambda: committed_epoch(recovery) >= 3 and stored() >= 8_000, timeout=60)
        stored_at_kill = stored()
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        trade_messages = sum(1 for topic, _, _ in tape.messages if topic == "md.trades") - len(MALFORMED)
        assert stored_at_kill < trade_messages, "the first run had stored everything: not a mid-stream kill"
    finally:
        producer.join()
        if first.poll() is None:
            first.kill()

    second = start_ingest(
        tmp_path, "--brokers", tansu_broker_fn.bootstrap_servers, "--recovery-dir", str(recovery), "--until-end"
    )
    assert second.wait(timeout=90) == 0, (tmp_path / "ingest.log").read_text()[-3_000:]

    settings = chdb_settings(tmp_path)
    with connect(settings) as store:
        assert_exactly_once(store, tape.trades)
        assert_published_bars_are_stored(store, tansu_broker_fn)
    assert_dead_letters_are_the_junk(tmp_path / "dead")


def test_broker_restart_during_the_flow_is_survived(tansu_broker_fn: TansuBroker, tmp_path: Path) -> None:
    create_topics(tansu_broker_fn)
    before = make_tape(3_000, seed=5)
    after = make_tape(1_000, seed=6, start_index=3_000, with_junk=False)
    port = free_port()
    ingest = start_ingest(
        tmp_path, "--brokers", tansu_broker_fn.bootstrap_servers, "--snapshot-interval", "0.2", metrics_port=port
    )
    try:
        produce(tansu_broker_fn, before.messages)
        eventually(lambda: metric(port, "pairflow_ingest_messages_out_total", table="trades") >= 3_000, timeout=60)
        tansu_broker_fn.stop()
        time.sleep(1.0)  # an outage the consumer has to notice, not a wait for a condition
        tansu_broker_fn.start()
        # tansu keeps its log in memory, so the restarted broker is empty. Refill it the way a
        # collector backfill would (same events, same ids, hence same partitions and offsets),
        # then send new events: the flow must pick up after its old position.
        create_topics(tansu_broker_fn)
        produce(tansu_broker_fn, before.messages)
        produce(tansu_broker_fn, after.messages)
        eventually(lambda: metric(port, "pairflow_ingest_messages_out_total", table="trades") >= 4_000, timeout=60)
        assert ingest.poll() is None, "ingest died during the broker outage"
    finally:
        stop_ingest(ingest)

    settings = chdb_settings(tmp_path)
    with connect(settings) as store:
        assert store.count("trades") == 4_000
        assert sorted(row[0] for row in store.query("SELECT id FROM trades FINAL")) == sorted(
            trade.id for trade in before.trades + after.trades
        )


def test_sigkill_without_recovery_dir_then_restart_rebuilds_every_bar_from_the_log(
    tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    """Broker mode reads every topic from the start of its log again: the bar open at the kill comes out whole."""
    tape, half = _half_produced(tansu_broker_fn, make_tape(10_000, seed=5))
    port = free_port()
    first = start_ingest(tmp_path, "--brokers", tansu_broker_fn.bootstrap_servers, "--snapshot-interval", "0.2",
                         metrics_port=port)
    try:
        eventually(lambda: metric(port, "pairflow_ingest_messages_out_total", table="trades") >= 2_000, timeout=60)
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    # A 1m bar was open at the kill, with trades stored before it and others read after: the restart reads the
    # log from its start, so it stores that bar whole, as every other.
    produce(tansu_broker_fn, tape.messages[half:])

    second = start_ingest(tmp_path, "--brokers", tansu_broker_fn.bootstrap_servers, "--until-end")
    assert second.wait(timeout=90) == 0, (tmp_path / "ingest.log").read_text()[-3_000:]
    with connect(chdb_settings(tmp_path)) as store:
        assert_exactly_once(store, tape.trades)
