"""A short real run that the panel-query tests read: pairflow processes scraped by Debian's Prometheus.

``pairflow demo`` (venue, collector, embedded ingest, strategy and execution
flow, chDB) trades a paper account with its logs mirrored into ClickHouse and
its own alerts posted to Debian's Alertmanager (a 99% VaR limit of one cent
makes the first position raise one); ``pairflow collect`` reads the demo's venue into
a tansu broker and ``pairflow ingest`` reads the broker into a second chDB, so
the producer and consumer metrics exist too (one record on md.trades is not a trade,
so the dead-letter counter exists as well). Prometheus scrapes all three every
second, evaluates the shipped alert rules and sends to the same Alertmanager.
The run lasts until the demo has traded and its alert reached Alertmanager.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from pairflow.config import BrokerSettings
from pairflow.events import TOPIC_OF, Trade
from sinks.kafka import KafkaSink
from tests.broker import TansuBroker
from tests.helpers import eventually, free_port
from tests.observability.support import PROMETHEUS_DIR, ROOT, alertmanager, tool, wait_http

__all__ = ["ObservedRun", "observed_run", "prometheus_query", "prometheus_server"]

JOBS = ("pairflow-demo", "pairflow-collect", "pairflow-ingest")
# Trades within seconds at --speed 30 (as in test_demo_trading), and any VaR is a breach.
DEMO_CONFIG = """\
[venue]
trade_rate_per_minute = 60.0
[strategy]
entry_z = 1.5
exit_z = 0.3
[execution]
max_var_99 = 0.01
"""


@dataclass(frozen=True)
class ObservedRun:
    """What a finished run leaves for the tests."""

    prometheus_url: str
    eval_time: float
    started_ms: int
    demo_chdb: Path
    rules: list[dict]
    alertmanager_alerts: list[dict]


def prometheus_query(url: str, expr: str, at: float) -> dict:
    """Evaluate ``expr`` at ``at`` (epoch seconds) through Prometheus's HTTP API and return its ``data``."""
    query = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=10) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:
        body = json.load(error)
    if body.get("status") != "success":
        raise AssertionError(f"{body.get('errorType')}: {body.get('error')}")
    return body["data"]


def _alertmanager_alerts(url: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as response:
        return json.load(response)


@contextmanager
def prometheus_server(workdir: Path, targets: dict[str, int], alertmanager_port: int) -> Iterator[str]:
    """Run Debian's Prometheus scraping ``targets`` (job -> port) every second with the shipped rules; yield its URL."""
    port = free_port()
    scrapes = "\n".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{target}']"
        for job, target in targets.items()
    )
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{alertmanager_port}']\n"
        f"rule_files:\n  - {PROMETHEUS_DIR / 'rules'}/*.yml\n"
        f"scrape_configs:\n{scrapes}\n"
    )
    with open(workdir / "prometheus.log", "ab") as log:
        process = subprocess.Popen(
            [tool("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{url}/-/ready", timeout_s=30)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)


@contextmanager
def _pairflow(workdir: Path, name: str, arguments: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """Run ``pairflow <arguments>``; stop it with SIGINT (Ctrl-C) and wait for a clean exit."""
    log = open(workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen([sys.executable, "-m", "app", *arguments], cwd=workdir, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            _interrupt(process)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _interrupt(process: subprocess.Popen) -> None:
    """Send Ctrl-C once: a second one would cut the process's own clean shutdown short."""
    if process.poll() is None and not getattr(process, "interrupted", False):
        process.send_signal(signal.SIGINT)
        process.interrupted = True  # type: ignore[attr-defined]


def _publish_garbage(broker: TansuBroker) -> None:
    """Put one record that is not a trade on md.trades: the ingest process must dead-letter it and count it."""
    settings = BrokerSettings(bootstrap_servers=broker.bootstrap_servers, partitions=1)
    with KafkaSink(settings, topics=(TOPIC_OF[Trade],)) as sink:
        sink.produce(TOPIC_OF[Trade], "ETH", b'{"not": "a trade"}')
        assert sink.flush(10) == 0


def _up_jobs(url: str, at: float) -> set[str]:
    return {series["metric"]["job"] for series in prometheus_query(url, "up == 1", at)["result"]}


@contextmanager
def observed_run(workdir: Path, broker: TansuBroker) -> Iterator[ObservedRun]:
    """Run the processes until Prometheus has scraped each a few times with data flowing, stop them, and
    yield the run while Prometheus still serves what it scraped."""
    (workdir / "pairflow.toml").write_text(DEMO_CONFIG)
    venue_port, alertmanager_port = free_port(), free_port()
    ports = {job: free_port() for job in JOBS}
    base = dict(os.environ, PYTHONPATH=str(ROOT), PAIRFLOW_CONFIG=str(workdir / "pairflow.toml"),
                PAIRFLOW_LOGGING__LEVEL="WARNING", PAIRFLOW_BROKER__BOOTSTRAP_SERVERS=broker.bootstrap_servers,
                PAIRFLOW_BROKER__PARTITIONS="1", PAIRFLOW_COLLECTOR__BACKFILL_HOURS="0")
    started_ms = int(time.time() * 1000)
    with (alertmanager(alertmanager_port, workdir / "alertmanager") as alertmanager_url,
          prometheus_server(workdir, ports, alertmanager_port) as url, ExitStack() as stack):
        demo = stack.enter_context(_pairflow(workdir, "demo", [
            "demo", "--duration", "300", "--speed", "30", "--coins", "ETH,SOL", "--port", str(venue_port),
            "--data-dir", str(workdir / "demo")], dict(base, PAIRFLOW_METRICS__PORT=str(ports["pairflow-demo"]),
                                                      PAIRFLOW_LOGGING__TO_CLICKHOUSE="true",
                                                      PAIRFLOW_ALERTING__ALERTMANAGER_URL=alertmanager_url)))
        eventually(lambda: socket.create_connection(("127.0.0.1", venue_port), timeout=1).close() or True,
                   timeout=60, interval=0.2)
        collect = stack.enter_context(_pairflow(workdir, "collect", [
            "collect", "--url", f"http://127.0.0.1:{venue_port}", "--coins", "ETH,SOL"],
            dict(base, PAIRFLOW_METRICS__PORT=str(ports["pairflow-collect"]))))
        ingest = stack.enter_context(_pairflow(workdir, "ingest", [
            "ingest", "--brokers", broker.bootstrap_servers, "--dead-letter-dir", str(workdir / "dead")],
            dict(base, PAIRFLOW_METRICS__PORT=str(ports["pairflow-ingest"]),
                 PAIRFLOW_STORAGE__DSN=f"chdb://{workdir / 'ingest-chdb'}",
                 PAIRFLOW_STORAGE__SPILL_DIR=str(workdir / "ingest-spill"))))
        _publish_garbage(broker)

        def flowing() -> bool:
            assert demo.poll() is None, (workdir / "demo.log").read_text()[-2000:]
            now = time.time()
            assert _up_jobs(url, now) == set(JOBS)
            for expr in ("pairflow_kafka_produced_total", "pairflow_ingest_consumer_lag_messages",
                         "pairflow_storage_rows_written_total{job='pairflow-demo'}",
                         "pairflow_collector_lag_seconds_bucket", "pairflow_strategy_signals_total > 0",
                         "pairflow_alerts_delivered_total{job='pairflow-demo'} > 0",
                         "pairflow_ingest_malformed_total > 0"):
                assert prometheus_query(url, f"count({expr})", now)["result"], expr
            return True

        eventually(flowing, timeout=120, interval=0.5)
        time.sleep(3)  # a few more scrapes, so every rate() window holds several samples
        eval_time = time.time()
        rules = eventually(lambda: _evaluated_rules(url), timeout=20, interval=0.5)
        posted = _alertmanager_alerts(alertmanager_url)
        for process in (demo, collect, ingest):
            _interrupt(process)  # all at once: they shut down in parallel
        stack.close()
        for name, process in (("demo", demo), ("collect", collect), ("ingest", ingest)):
            assert process.returncode == 0, f"{name} exited {process.returncode}: " + (
                workdir / f"{name}.log").read_text()[-2000:]
        yield ObservedRun(url, eval_time, started_ms, workdir / "demo" / "chdb", rules, posted)


def _evaluated_rules(url: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/v1/rules", timeout=5) as response:
        groups = json.load(response)["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules and all(rule["lastEvaluation"] != "0001-01-01T00:00:00Z" for rule in rules)
    return rules
