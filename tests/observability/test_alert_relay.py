"""pf.alerts reaches a real Alertmanager: the relay process over a tansu broker, and the in-process route.

Alerts arrive, an Alertmanager restart delays them without losing one (the
outbox), and a replay -- the relay reading pf.alerts again from the start --
posts nothing twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.alerts import route_alerts
from flows.decode import DEAD_LETTER_KEY, decode_batch
from pairflow.config import AlertingSettings, BrokerSettings
from pairflow.events import TOPIC_OF, Alert, Fill
from sinks.alerts import AlertmanagerSink
from sinks.dead_letter import read_dead_letters
from sinks.kafka import KafkaSink
from tests.broker import TansuBroker
from tests.helpers import eventually, free_port
from tests.metrics_support import metric, sample
from tests.observability.support import ROOT, alertmanager

TOPIC = TOPIC_OF[Alert]


def _alert(number: int, severity: str = "critical") -> Alert:
    return Alert(ts=1_700_000_000_000 + number, id=f"alert-{number}", severity=severity, source="risk.var",
                 message=f"breach {number}", coin="ETH")


def _active(url: str) -> set[str]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as response:
        return {alert["labels"]["alert_id"] for alert in json.load(response)}


def _publish(broker: TansuBroker, *records: Alert | bytes) -> None:
    with KafkaSink(BrokerSettings(bootstrap_servers=broker.bootstrap_servers, partitions=1), topics=(TOPIC,)) as sink:
        for record in records:
            if isinstance(record, bytes):
                sink.produce(TOPIC, "ETH", record)
            else:
                sink.emit(TOPIC, "ETH", record)
        assert sink.flush(10) == 0


def _start_relay(tmp_path: Path, broker: TansuBroker, am_port: int, metrics_port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PAIRFLOW_CONFIG=str(tmp_path / "pairflow.toml"),
               PAIRFLOW_METRICS__PORT=str(metrics_port), PAIRFLOW_BROKER__PARTITIONS="1",
               PAIRFLOW_ALERTING__RETRY_BACKOFF_MAX_S="0.5")
    log = open(tmp_path / "relay.log", "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        [sys.executable, "-m", "app", "alertmanager", "relay", "--alertmanager-url", f"http://127.0.0.1:{am_port}",
         "--brokers", broker.bootstrap_servers, "--outbox-dir", str(tmp_path / "outbox")],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)


def _relay_metric(port: int, name: str) -> float:
    try:
        return metric(port, name)
    except OSError:
        return -1.0


def test_the_relay_posts_pf_alerts_once_across_alertmanager_and_relay_restarts(tmp_path: Path, tansu_broker_fn):
    broker = tansu_broker_fn
    (tmp_path / "pairflow.toml").write_text("")
    am_port, metrics_port = free_port(), free_port()
    _publish(broker, _alert(1), _alert(2, "warning"), _alert(3, "info"), b'{"ts": "not a time"}')
    relay = _start_relay(tmp_path, broker, am_port, metrics_port)
    try:
        with alertmanager(am_port, tmp_path / "am") as url:
            eventually(lambda: _active(url) == {"alert-1", "alert-2"}, timeout=60, interval=0.2)
        # Alertmanager is down: a new alert waits in the relay's outbox.
        _publish(broker, _alert(4))
        eventually(lambda: _relay_metric(metrics_port, "pairflow_alerts_pending") == 1, timeout=30, interval=0.2)
        assert b'"id":"alert-4"' in (tmp_path / "outbox" / "worker-0" / "outbox.jsonl").read_bytes()
        with alertmanager(am_port, tmp_path / "am") as url:
            eventually(lambda: "alert-4" in _active(url), timeout=30, interval=0.2)
            # Alerts delivered before the restart are not posted again.
            assert _active(url) == {"alert-4"}
            assert metric(metrics_port, "pairflow_alerts_delivered_total") == 3
        assert relay.poll() is None, (tmp_path / "relay.log").read_text()[-2000:]
        assert _stop(relay) == 0
    finally:
        if relay.poll() is None:
            relay.kill()
            relay.wait()

    letters = read_dead_letters(tmp_path / "outbox" / "dead-letters")
    assert [letter["topic"] for letter in letters] == [TOPIC] and "not a time" in letters[0]["raw"]
    log = (tmp_path / "relay.log").read_text()
    assert "breach 3" in log, "an info alert is logged even though it is not posted"

    # A relay that lost its read offsets reads pf.alerts from the start again: nothing is posted twice.
    for path in (tmp_path / "outbox" / "recovery").glob("*"):
        path.unlink()
    relay = _start_relay(tmp_path, broker, am_port, metrics_port)
    try:
        with alertmanager(am_port, tmp_path / "am-fresh") as url:
            eventually(lambda: _relay_metric(metrics_port, "pairflow_alerts_duplicates_total") == 3,
                       timeout=60, interval=0.2)
            _publish(broker, _alert(5))
            eventually(lambda: _active(url) == {"alert-5"}, timeout=30, interval=0.2)
        assert _stop(relay) == 0
    finally:
        if relay.poll() is None:
            relay.kill()
            relay.wait()


def test_a_stage_routes_its_alerts_in_process_to_alertmanager(tmp_path: Path):
    """Embedded mode: the alerts among a stage's events are posted; other events and replays are not."""
    port = free_port()
    fill = Fill(ts=1_700_000_000_000, id="f1", coin="ETH", oid=1, cloid="0x1", side="B", px=2000.0, sz=0.1,
                fee=0.01, closed_pnl=0.0, crossed=True)
    batches = [("desk", [fill, _alert(10), _alert(11, "info")]), ("desk", [_alert(12, "warning"), _alert(10)])]
    settings = AlertingSettings(alertmanager_url=f"http://127.0.0.1:{port}", outbox_dir=tmp_path / "outbox")
    duplicates = sample("pairflow_alerts_duplicates_total")
    flow = Dataflow("route")
    route_alerts("alertmanager", op.input("in", flow, TestingSource(batches)), settings)
    with alertmanager(port, tmp_path / "am") as url:
        run_main(flow)
        assert _active(url) == {"alert-10", "alert-12"}
    assert sample("pairflow_alerts_duplicates_total") == duplicates + 1
    ledger = (tmp_path / "outbox" / "worker-0" / "delivered.ids").read_text().split()
    assert sorted(ledger) == ["alert-10", "alert-12"]


class _Recorder(BaseHTTPRequestHandler):
    posted: list[str] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).posted.extend(alert["labels"]["alert_id"] for alert in body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def recorder():
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.lists(st.lists(st.integers(0, 6), max_size=8), min_size=1, max_size=3))
def test_each_alert_id_is_posted_once_however_often_and_across_how_many_sinks_it_is_sent(runs, recorder, tmp_path_factory):
    """Any replay pattern (ids repeated within a run and across restarts on one outbox) posts each id once."""
    outbox = tmp_path_factory.mktemp("outbox")
    _Recorder.posted = []
    for numbers in runs:
        sink = AlertmanagerSink(f"http://127.0.0.1:{recorder.server_port}", outbox, retry_backoff_s=0.01)
        for number in numbers:
            sink.send(_alert(number))
        assert sink.flush(timeout_s=10)
        sink.close()
    expected = sorted({f"alert-{number}" for numbers in runs for number in numbers})
    assert sorted(_Recorder.posted) == expected


@given(payload=st.one_of(st.binary(max_size=200), st.builds(
    lambda alert: json.dumps(alert).encode(),
    st.fixed_dictionaries({"ts": st.one_of(st.integers(), st.text(max_size=5)), "id": st.text(max_size=10),
                           "severity": st.sampled_from(["info", "warning", "critical", "page"]),
                           "source": st.text(max_size=10), "message": st.text(max_size=20)}),
)))
def test_any_pf_alerts_record_becomes_an_alert_or_a_dead_letter(payload):
    """The relay's decode step never raises: a record is a valid alert or a dead letter naming pf.alerts."""
    [(key, [event])] = decode_batch([(TOPIC, payload, 0, 7)])
    if key == DEAD_LETTER_KEY:
        assert event.topic == TOPIC and event.offset == 7 and event.error
    else:
        assert type(event) is Alert and event.ts > 0 and event.id
