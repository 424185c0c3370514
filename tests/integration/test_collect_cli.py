"""``pairflow collect`` as a process: venue in, tansu out, Prometheus metrics, clean stop on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pairflow.events import Trade, decode
from tests.broker import TansuBroker, consume_all
from tests.helpers import eventually, free_port
from tests.integration.venue_support import make_trades
from tests.metrics_support import metric_sum, scrape

pytestmark = pytest.mark.broker


def test_collect_command_streams_venue_trades_to_the_broker_and_stops_cleanly(
    venue, tansu_broker: TansuBroker, tmp_path: Path
) -> None:
    engine, url, _, tape = venue
    metrics_port = free_port()
    (tmp_path / "pairflow.toml").write_text("")
    env = dict(
        os.environ,
        PAIRFLOW_CONFIG=str(tmp_path / "pairflow.toml"),
        PAIRFLOW_BROKER__BOOTSTRAP_SERVERS=tansu_broker.bootstrap_servers,
        PAIRFLOW_STORAGE__DSN=f"chdb://{tmp_path}/db",
        PAIRFLOW_STORAGE__SPILL_DIR=str(tmp_path / "spill"),
        PAIRFLOW_COLLECTOR__BACKFILL_HOURS="0",
        PAIRFLOW_METRICS__PORT=str(metrics_port),
    )
    process = subprocess.Popen([sys.executable, "-m", "app", "collect", "--url", url, "--coins", "ETH"],
                               env=env, cwd=Path(__file__).resolve().parents[2],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def metrics() -> str:
            try:
                return scrape(metrics_port)
            except OSError:
                assert process.poll() is None, process.communicate()[0].decode()[-2000:]
                return ""

        eventually(lambda: metric_sum(metrics(), "pairflow_collector_messages_in_total",
                                   channel="subscriptionResponse") >= 5, timeout=30)
        made = make_trades(engine, tape, 5)
        eventually(lambda: metric_sum(metrics(), "pairflow_kafka_produced_total", topic="md.trades") >= 5, timeout=15)
        assert metric_sum(metrics(), "pairflow_kafka_queue_depth") >= 0
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output.decode()[-2000:]

    messages = consume_all(tansu_broker, "md.trades", len(made), timeout=15)
    ids = [decode(message.value(), Trade).id for message in messages]
    assert sorted(ids) == sorted(f"ETH:{t['tid']}" for t in made)
