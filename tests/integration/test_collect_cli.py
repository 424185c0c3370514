"""``pairflow collect`` as a process: venue in, tansu out, Prometheus metrics, clean stop on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from pairflow.events import Trade, decode
from tests.broker import TansuBroker, tansu_broker  # noqa: F401
from tests.helpers import eventually, free_port
from tests.integration.test_collect import _trade, venue  # noqa: F401

pytestmark = pytest.mark.broker

RUN_CLI = "import typer; from sources.cli import register; app = typer.Typer(); register(app); app()"


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    match = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$" if labels else rf"^{name} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


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
    process = subprocess.Popen([sys.executable, "-c", RUN_CLI, "collect", "--url", url, "--coins", "ETH"],
                               env=env, cwd=Path(__file__).resolve().parents[2],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def metrics() -> str:
            try:
                return httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1).text
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0].decode()[-2000:]
                return ""

        eventually(lambda: _metric(metrics(), "pairflow_collector_messages_in_total",
                                   channel="subscriptionResponse") >= 5, timeout=30)
        made = _trade(engine, tape, 5)
        eventually(lambda: _metric(metrics(), "pairflow_kafka_produced_total", topic="md.trades") >= 5, timeout=15)
        assert _metric(metrics(), "pairflow_kafka_queue_depth") >= 0
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output.decode()[-2000:]

    consumer = Consumer({"bootstrap.servers": tansu_broker.bootstrap_servers, "group.id": "cli",
                         "enable.auto.commit": False})
    partitions = tansu_broker.admin().list_topics("md.trades", timeout=5).topics["md.trades"].partitions
    consumer.assign([TopicPartition("md.trades", p, OFFSET_BEGINNING) for p in partitions])
    ids: list[str] = []

    def read() -> bool:
        message = consumer.poll(0.2)
        if message is not None and message.error() is None:
            ids.append(decode(message.value(), Trade).id)
        return len(ids) >= len(made)

    eventually(read, timeout=15, interval=0)
    consumer.close()
    assert sorted(ids) == sorted(f"ETH:{t['tid']}" for t in made)
