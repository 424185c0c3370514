"""The store fails under a running ingest flow and comes back: rows wait in spill files, nothing is lost.

chDB admits one process per directory, so the outage is made from inside the process that owns it:
the tables the flow writes are detached (every insert then fails, as with a server that went away)
while market data keeps arriving, and attached again later. The flow must keep running: its writers
retry, spill each failed batch to disk, and replay the spill files after the next insert succeeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from bytewax.testing import TestingSink, TestingSource, run_main

from flows.ingest import build_ingest_flow
from pairflow.storage import connect
from sinks.clickhouse import ClickHouseSink
from tests.helpers import eventually
from tests.integration.ingest_support import assert_exactly_once, chdb_settings, make_tape
from tests.metrics_support import sample
from tests.reliability.support import lost_and_duplicated, record

TABLES = ("trades", "bars_1s", "bars_1m")
WAIT = TestingSource.PAUSE(timedelta(milliseconds=50))


class Phases:
    """Feed a tape in three parts; between parts the source idles until the test moves it on."""

    def __init__(self, messages: list[tuple[str, bytes, bytes]]) -> None:
        third = len(messages) // 3
        self.parts = [messages[:third], messages[third : 2 * third], messages[2 * third :]]
        self.go = [threading.Event() for _ in self.parts]
        self.go[0].set()

    def items(self) -> Iterator[Any]:
        for index, part in enumerate(self.parts):
            while not self.go[index].is_set():
                yield WAIT
            for topic, _, value in part:
                yield (topic, value, None, None)


def test_store_outage_mid_run_is_spilled_and_replayed_without_loss(tmp_path: Path) -> None:
    tape = make_tape(9_000, seed=37, with_junk=False)
    settings = chdb_settings(tmp_path).model_copy(update={"retry_attempts": 1, "retry_backoff_s": 0.01})
    with connect(settings) as store:
        store.init_schema()
    phases = Phases(tape.messages)
    flow = build_ingest_flow(TestingSource(phases.items(), batch_size=200), ClickHouseSink(settings),
                             TestingSink([]))
    failures: list[BaseException] = []

    def run() -> None:
        try:
            run_main(flow, epoch_interval=timedelta(milliseconds=20))
        except BaseException as error:  # noqa: BLE001 - reported by the test thread
            failures.append(error)

    spilled_before = sample("pairflow_storage_rows_spilled_total", table="trades")
    running = threading.Thread(target=run)
    running.start()
    with connect(settings) as store:
        try:
            eventually(lambda: store.count("trades") > 0, timeout=30)
            for table in TABLES:
                store.command(f"DETACH TABLE {table}")
            phases.go[1].set()
            eventually(lambda: sample("pairflow_storage_rows_spilled_total", table="trades") > spilled_before,
                       timeout=30)
            assert running.is_alive() and not failures, failures
            for table in TABLES:
                store.command(f"ATTACH TABLE {table}")
            restored = time.monotonic()
            phases.go[2].set()
            eventually(lambda: lost_and_duplicated(store, "trades", {t.id for t in tape.trades})[0] == 0,
                       timeout=60)
            recovery_s = time.monotonic() - restored
        finally:
            for go in phases.go:
                go.set()
            running.join(timeout=60)
        assert not failures, failures
        assert not list((tmp_path / "spill").rglob("*.spill")), "spilled batches were never replayed"
        lost, duplicated = lost_and_duplicated(store, "trades", {trade.id for trade in tape.trades})
        assert_exactly_once(store, tape.trades)
    record("store outage under ingest", len(tape.trades), lost, duplicated, recovery_s)
