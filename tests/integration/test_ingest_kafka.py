"""Ingest flow against a real tansu broker and chDB: exactly-once results, dead letters, bars."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bytewax.run import cli_main
from prometheus_client import REGISTRY

from flows.ingest import build_ingest_flow, prepare_recovery
from pairflow.storage import connect
from sinks.clickhouse import ClickHouseSink
from sinks.dead_letter import DeadLetterSink, read_dead_letters
from sources.kafka_source import market_data_source
from tests.broker import TansuBroker
from tests.integration.ingest_support import (
    BASE_TS,
    MALFORMED,
    REPO,
    assert_exactly_once,
    assert_published_bars_are_stored,
    chdb_settings,
    create_topics,
    make_tape,
    produce,
)
from tests.metrics_support import sample

pytestmark = pytest.mark.broker


METRICS = [
    ("pairflow_ingest_messages_in_total", {"topic": "md.trades"}),
    ("pairflow_ingest_malformed_total", {"topic": "md.trades"}),
    ("pairflow_ingest_duplicate_trades_total", {}),
]


@pytest.mark.parametrize("workers", [1, 2])
def test_trades_arrive_exactly_once_and_bars_match_batch_computation(
    tansu_broker_fn: TansuBroker, tmp_path: Path, workers: int
) -> None:
    create_topics(tansu_broker_fn)
    tape = make_tape(6_000)
    produce(tansu_broker_fn, tape.messages)
    settings = chdb_settings(tmp_path)
    with connect(settings) as store:
        store.init_schema()

    flow = build_ingest_flow(
        market_data_source([tansu_broker_fn.bootstrap_servers], tail=False),
        ClickHouseSink(settings, partitions=workers),
        DeadLetterSink(tmp_path / "dead"),
    )
    before = {name: sample(name, **labels) for name, labels in METRICS}
    cli_main(flow, workers_per_process=workers)
    grew = {name: sample(name, **labels) - before[name] for name, labels in METRICS}
    trade_messages = sum(1 for topic, _, _ in tape.messages if topic == "md.trades")
    assert grew == {
        "pairflow_ingest_messages_in_total": trade_messages,
        "pairflow_ingest_malformed_total": len(MALFORMED),
        "pairflow_ingest_duplicate_trades_total": trade_messages - len(MALFORMED) - len(tape.trades),
    }
    assert REGISTRY.get_sample_value("pairflow_ingest_lag_seconds", {"table": "trades"}) > 0
    assert sample("pairflow_ingest_late_trades_total") > 0

    with connect(settings) as store:
        assert_exactly_once(store, tape.trades)
        snapshots = [
            (row["ts"], row["bid_px"], row["ask_px"], row["spread_bps"])
            for row in store.select("l2_snapshots", "ts, bid_px, ask_px, spread_bps", order_by="ts")
        ]
    first_book, last_book = BASE_TS, BASE_TS + (6_000 * 7 - 1) // 250 * 250
    boundaries = list(range(-(-first_book // 1_000) * 1_000, last_book, 1_000))
    assert [row[0] for row in snapshots] == boundaries
    for _, bid_px, ask_px, spread in snapshots:
        assert spread == pytest.approx((ask_px[0] - bid_px[0]) / ((ask_px[0] + bid_px[0]) / 2) * 1e4)

    letters = read_dead_letters(tmp_path / "dead")
    assert sorted(letter["raw"].encode("utf-8", errors="replace") for letter in letters) == sorted(
        junk.decode("utf-8", errors="replace").encode() for junk in MALFORMED
    )
    reasons = " | ".join(letter["error"] for letter in letters)
    assert "px must be a positive number" in reasons and "sz" in reasons and "$.px" in reasons
    assert all(letter["topic"] == "md.trades" and letter["offset"] is not None for letter in letters)


def test_bytewax_run_launcher_resumes_from_its_recovery_directory(
    tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    create_topics(tansu_broker_fn)
    first = make_tape(900, seed=21)
    produce(tansu_broker_fn, first.messages)
    recovery = tmp_path / "recovery"
    prepare_recovery(recovery, "ingest flow test")
    factory = (
        f"flows.ingest:kafka_ingest_flow('{tansu_broker_fn.bootstrap_servers}', 'chdb://{tmp_path / 'chdb'}',"
        f" '{tmp_path / 'dead'}', tail=False)"
    )
    command = [sys.executable, "-m", "bytewax.run", factory, "-r", str(recovery), "-s", "1", "-b", "0"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=90, check=False)
    assert run.returncode == 0, run.stderr.decode()[-2_000:]
    second = make_tape(600, seed=22, start_index=900, with_junk=False)
    produce(tansu_broker_fn, second.messages)
    run = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=90, check=False)
    assert run.returncode == 0, run.stderr.decode()[-2_000:]

    with connect(chdb_settings(tmp_path)) as store:
        assert_exactly_once(store, first.trades + second.trades)
        assert_published_bars_are_stored(store, tansu_broker_fn)
    # The second run started at the committed offsets: the junk of the first tape was not read again.
    assert len(read_dead_letters(tmp_path / "dead")) == len(MALFORMED)
