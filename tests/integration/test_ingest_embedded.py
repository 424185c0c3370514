"""Embedded mode: events pushed in-process through QueueSource.emit, stored in chDB, no broker."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import msgspec
from bytewax.testing import run_main

from flows.ingest import build_ingest_flow
from pairflow.events import EVENT_OF_TOPIC, Funding, Gap
from pairflow.storage import connect
from sinks.clickhouse import ClickHouseSink
from sinks.dead_letter import DeadLetterSink, read_dead_letters
from sources.queue_source import QueueSource
from tests.helpers import eventually, free_port
from tests.integration.ingest_support import (
    BASE_TS,
    MALFORMED,
    assert_exactly_once,
    chdb_settings,
    make_tape,
    start_ingest,
    stop_ingest,
)
from tests.integration.venue_support import fund_accounts, make_engine, take
from tests.metrics_support import metric
from tests.support.venue import run_venue


def test_collector_thread_feeds_the_flow_through_the_queue(tmp_path: Path) -> None:
    tape = make_tape(5_000, seed=3)
    settings = chdb_settings(tmp_path)
    with connect(settings) as store:
        store.init_schema()
    source = QueueSource(max_queued=500, batch_size=256)

    def collector() -> None:
        # The collector emits typed events; junk bytes stand in for a record it could not type.
        for topic, key, value in tape.messages:
            try:
                event = msgspec.json.decode(value, type=EVENT_OF_TOPIC[topic])
            except msgspec.DecodeError:
                source.emit(topic, key.decode(), value)
                continue
            source.emit(topic, key.decode(), event)
        source.emit("md.funding", "BTC", Funding(id="BTC:f1", coin="BTC", ts=BASE_TS, rate=0.0001))
        source.emit(
            "md.gaps",
            "BTC",
            Gap(
                id="BTC:g1", coin="BTC", ts=BASE_TS, stream="trades", start_ts=BASE_TS, end_ts=BASE_TS + 10,
                filled=False,
            ),
        )
        source.close()

    thread = threading.Thread(target=collector)
    thread.start()
    run_main(build_ingest_flow(source, ClickHouseSink(settings), DeadLetterSink(tmp_path / "dead")))
    thread.join()

    with connect(settings) as store:
        assert_exactly_once(store, tape.trades)
        assert store.query("SELECT id, rate FROM funding FINAL") == [("BTC:f1", 0.0001)]
        assert store.query("SELECT id, filled FROM gaps FINAL") == [("BTC:g1", False)]
        # The unfilled trade gap came after its bars were stored: they are stored again, marked.
        marked = store.query("SELECT id FROM bars_1s FINAL WHERE incomplete UNION ALL "
                             "SELECT id FROM bars_1m FINAL WHERE incomplete")
        assert sorted(row[0] for row in marked) == [f"BTC:1m:{BASE_TS - BASE_TS % 60_000}", f"BTC:1s:{BASE_TS}"]
    letters = read_dead_letters(tmp_path / "dead")
    # The negative price decodes as a Trade and is rejected by validation; the rest never typed.
    assert len(letters) == len(MALFORMED)
    assert any("px must be a positive number" in letter["error"] for letter in letters)


def test_ingest_command_embedded_collects_from_the_venue_into_chdb(tmp_path: Path) -> None:
    """`pairflow ingest --embedded`: collector and flow in one process, fed by the local venue."""
    engine = make_engine(time.time_ns() // 1_000_000)
    fund_accounts(engine)
    port = free_port()
    with run_venue(engine, advance_interval=0.02, push_interval=0.05) as url:
        ingest = start_ingest(
            tmp_path,
            "--embedded",
            "--snapshot-interval",
            "0.2",
            metrics_port=port,
            extra_env={
                "PAIRFLOW_COLLECTOR__URL": url,
                "PAIRFLOW_COLLECTOR__COINS": '["ETH"]',
                "PAIRFLOW_COLLECTOR__BACKFILL_HOURS": "0",
                "PAIRFLOW_LOGGING__LEVEL": "INFO",
            },
        )
        try:
            subscriptions = {"channel": "subscriptionResponse"}
            eventually(lambda: metric(port, "pairflow_collector_messages_in_total", **subscriptions) >= 5, timeout=30)
            with engine.lock:
                for _ in range(40):
                    take(engine)
            eventually(lambda: metric(port, "pairflow_ingest_messages_out_total", table="trades") >= 40, timeout=30)
            # No trade follows, so the 1 s bars close once the coin has been idle past the lateness.
            eventually(lambda: metric(port, "pairflow_ingest_messages_out_total", table="bars_1s") >= 1, timeout=30)
        finally:
            stop_ingest(ingest)
    log = (tmp_path / "ingest.log").read_text()
    assert ingest.returncode == 0 and "ingest stopped: everything collected is stored" in log, log[-2_000:]
    assert "Traceback" not in log, log[-2_000:]

    with connect(chdb_settings(tmp_path)) as store:
        rows = store.query("SELECT coin, px, sz, side FROM trades FINAL")
        assert sorted(rows) == [("ETH", 2001.0, 0.01, "B")] * 40
        assert store.query("SELECT sum(trades) FROM bars_1s FINAL")[0][0] == 40
