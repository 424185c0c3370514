"""Faults injected into running stages over the local Kafka-protocol broker, with what each one cost.

Each scenario runs ``pairflow ingest`` or ``pairflow strategy`` as a real process against the tansu
broker, injects one fault mid-stream, and measures: events lost (input events with no stored row),
rows duplicated in the deduplicated ``_v`` view, and recovery time (from the restart, or the broker's
return, until every event is stored). Every figure must be 0 except the time; the table is printed at
the end of the run (tests/reliability/conftest.py). chDB is opened only after the stage exits.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from pairflow.storage import connect
from tests.broker import TansuBroker
from tests.helpers import eventually, free_port
from tests.integration.ingest_support import (
    chdb_settings,
    create_topics,
    make_tape,
    produce,
    read_published_bars,
    sigkill_mid_stream,
    start_ingest,
    stop_ingest,
)
from tests.integration.strategy_cli_support import (
    kill_strategy_mid_stream,
    resume_to_the_end,
    signals_by_hand,
    strategy_bars,
)
from tests.metrics_support import metric, served_metric
from tests.reliability.support import broker_outage, lost_and_duplicated, produce_in_chunks, record

pytestmark = [pytest.mark.slow, pytest.mark.broker]


def test_sigkill_of_ingest_mid_stream(tansu_broker_fn: TansuBroker, tmp_path: Path) -> None:
    create_topics(tansu_broker_fn)
    tape = make_tape(30_000, seed=23, with_junk=False)
    half = len(tape.messages) // 10
    produce(tansu_broker_fn, tape.messages[:half])
    producer = threading.Thread(target=produce_in_chunks, args=(tansu_broker_fn, tape.messages[half:]))
    recovery = tmp_path / "recovery"
    port = free_port()
    common = ("--brokers", tansu_broker_fn.bootstrap_servers, "--recovery-dir", str(recovery), "--snapshot-interval", "0.2")
    first = start_ingest(tmp_path, *common, metrics_port=port)
    stored_at_kill = sigkill_mid_stream(first, producer, recovery, port, 5_000)
    assert stored_at_kill < len(tape.trades), "the first run had stored everything: not a mid-stream kill"
    restarted = time.monotonic()
    second = start_ingest(tmp_path, *common, "--until-end")
    assert second.wait(timeout=90) == 0, (tmp_path / "ingest.log").read_text()[-3_000:]
    recovery_s = time.monotonic() - restarted
    with connect(chdb_settings(tmp_path)) as store:
        lost, duplicated = lost_and_duplicated(store, "trades", {trade.id for trade in tape.trades})
    record("SIGKILL ingest, restart", len(tape.trades), lost, duplicated, recovery_s)


def test_broker_stop_and_start_under_ingest(tansu_broker_fn: TansuBroker, tmp_path: Path) -> None:
    """The stage rides out the outage: its md.bars producer, whose id the memory-backed broker forgot, is rebuilt."""
    create_topics(tansu_broker_fn)
    before = make_tape(3_000, seed=29, with_junk=False)
    after = make_tape(1_000, seed=31, start_index=3_000, with_junk=False)
    port = free_port()
    common = ("--brokers", tansu_broker_fn.bootstrap_servers, "--recovery-dir", str(tmp_path / "recovery"),
              "--snapshot-interval", "0.2")
    ingest = start_ingest(tmp_path, *common, metrics_port=port)
    try:
        produce(tansu_broker_fn, before.messages)
        eventually(lambda: metric(port, "pairflow_ingest_messages_out_total", table="trades") >= 3_000, timeout=60)
        back = broker_outage(tansu_broker_fn, before.messages, after.messages)
        eventually(lambda: ingest.poll() is not None
                   or served_metric(port, "pairflow_ingest_messages_out_total", table="trades") >= 4_000, timeout=60)
        recovery_s = time.monotonic() - back
        crashed = ingest.poll() is not None
        resets = metric(port, "pairflow_kafka_producer_resets_total") if not crashed else 0.0
    finally:
        stop_ingest(ingest)
    log = (tmp_path / "ingest.log").read_text()
    assert not crashed, log[-3_000:]
    assert resets >= 1, "the md.bars producer was not rebuilt after the broker lost its state"
    with connect(chdb_settings(tmp_path)) as store:
        lost, duplicated = lost_and_duplicated(store, "trades", {t.id for t in before.trades + after.trades})
        bars_after = {row[0] for row in store.query(
            "SELECT id FROM bars_1s FINAL WHERE ts >= {start:Int64}", {"start": min(t.ts for t in after.trades)})}
    unpublished = bars_after - read_published_bars(tansu_broker_fn).keys()
    assert bars_after and not unpublished, f"{len(unpublished)} of {len(bars_after)} new bars never reached md.bars"
    record("broker stop/start under ingest", len(before.trades) + len(after.trades), lost, duplicated, recovery_s)


def test_sigkill_of_strategy_mid_stream(tansu_broker_fn: TansuBroker, tmp_path: Path) -> None:
    messages = strategy_bars(tansu_broker_fn, 200, seed=43)
    common, signals_at_kill = kill_strategy_mid_stream(tansu_broker_fn, tmp_path, messages, epochs=2)
    restarted = time.monotonic()
    resume_to_the_end(tmp_path, common)
    recovery_s = time.monotonic() - restarted

    expected = signals_by_hand(messages)
    with connect(chdb_settings(tmp_path)) as store:
        lost, duplicated = lost_and_duplicated(store, "signals", {s.id for s in expected})
    assert signals_at_kill < len(expected), "the first run had emitted every signal: not a mid-stream kill"
    record("SIGKILL strategy, restart", len(expected), lost, duplicated, recovery_s)
