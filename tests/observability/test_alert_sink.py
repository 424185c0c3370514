"""The Alertmanager sink: alerts are logged and stored at once, and reach a real Alertmanager once it is up."""

from __future__ import annotations

import io
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main
from hypothesis import given
from hypothesis import strategies as st

from pairflow.clock import WALL_CLOCK
from pairflow.config import AlertingSettings, LoggingSettings
from pairflow.events import Alert, encode
from pairflow.logs import configure_logging
from pairflow.storage import BatchWriter
from sinks.alerts import AlertmanagerSink, AlertSink, postable_alert
from tests.metrics_support import sample
from tests.helpers import free_port
from tests.observability.support import alertmanager


def _alert(number: int, severity: str = "critical", source: str = "risk.drawdown") -> Alert:
    return Alert(ts=1_700_000_000_000 + number, id=f"alert-{number}", severity=severity, source=source,
                 message=f"breach {number}", coin="ETH")


def _active_alerts(url: str) -> dict[str, dict]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as response:
        return {alert["labels"]["alert_id"]: alert for alert in json.load(response)}


def test_alerts_survive_an_unreachable_alertmanager_and_a_restart(tmp_path: Path, store):
    port = free_port()
    lines = io.StringIO()
    configure_logging(LoggingSettings(level="INFO"), stream=lines)
    writer = BatchWriter(store, "alerts", spill_dir=tmp_path / "spill", background=False)
    failures_before = sample("pairflow_alerts_post_failures_total")

    first = AlertmanagerSink(f"http://127.0.0.1:{port}", tmp_path / "outbox", writer=writer,
                             retry_backoff_s=0.05, retry_backoff_max_s=0.2, timeout_s=1)
    first.send(_alert(1))
    first.send(_alert(2, severity="warning", source="reconciliation"))
    assert not first.flush(timeout_s=0.5)
    first.close(timeout_s=0.2)
    assert first.pending == 2
    assert sample("pairflow_alerts_post_failures_total") > failures_before

    # Logged and stored while Alertmanager was down.
    writer.flush()
    assert store.count("alerts") == 2
    logged = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert {(entry["event"], entry["level"]) for entry in logged if "alert_id" in entry} == {
        ("breach 1", "critical"), ("breach 2", "warning")}

    # A new process on the same outbox sends the leftovers and its own alert once Alertmanager is up.
    second = AlertmanagerSink(f"http://127.0.0.1:{port}", tmp_path / "outbox", writer=writer,
                              retry_backoff_s=0.05, retry_backoff_max_s=0.2, timeout_s=1)
    assert second.pending == 2
    second.send(_alert(3, source="kill switch"))
    with alertmanager(port, tmp_path / "am") as url:
        assert second.flush(timeout_s=15), "alerts were not delivered once Alertmanager came up"
        active = _active_alerts(url)
    second.close()
    assert set(active) == {"alert-1", "alert-2", "alert-3"}
    assert active["alert-3"]["labels"]["alertname"] == "PairflowKillSwitch"
    assert active["alert-1"]["annotations"]["summary"] == "breach 1"
    assert (tmp_path / "outbox" / "outbox.jsonl").read_bytes() == b""
    assert sample("pairflow_alerts_pending") == 0
    writer.close()


def test_an_alert_that_cannot_be_posted_is_kept_aside(tmp_path: Path):
    """A time outside what Alertmanager can express is refused at once, on disk, and the next alert still goes."""
    sink = AlertmanagerSink(f"http://127.0.0.1:{free_port()}", tmp_path / "outbox")
    sink.send(Alert(ts=-62_135_596_800_001, id="bad", severity="critical", source="x", message="m"))
    assert sink.pending == 0
    assert b'"id":"bad"' in (tmp_path / "outbox" / "rejected.jsonl").read_bytes()
    sink.close(timeout_s=0)


class _Refusing(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(400)
        self.end_headers()
        self.wfile.write(b"bad alert")

    def log_message(self, *args):
        pass


def test_alerts_alertmanager_refuses_are_moved_aside_not_retried(tmp_path: Path):
    server = HTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sink = AlertmanagerSink(f"http://127.0.0.1:{server.server_port}", tmp_path / "outbox", retry_backoff_s=0.05)
        sink.send(_alert(4))
        assert sink.flush(timeout_s=10)
        sink.close()
    finally:
        server.shutdown()
        server.server_close()
    assert b'"id":"alert-4"' in (tmp_path / "outbox" / "rejected.jsonl").read_bytes()
    assert (tmp_path / "outbox" / "outbox.jsonl").read_bytes() == b""


def test_without_alertmanager_alerts_are_only_logged_and_stored(tmp_path: Path):
    sink = AlertmanagerSink.from_settings(AlertingSettings(outbox_dir=tmp_path / "outbox"))
    sink.send(_alert(5))
    assert sink.pending == 0 and not (tmp_path / "outbox" / "outbox.jsonl").exists()
    sink.close()


@given(source=st.text(min_size=1, max_size=40), message=st.text(max_size=200),
       severity=st.sampled_from(["info", "warning", "critical"]))
def test_any_alert_becomes_a_postable_alert(source, message, severity):
    body = postable_alert(Alert(ts=0, id="x", severity=severity, source=source, message=message))
    assert body["labels"]["alertname"].startswith("Pairflow")
    assert body["labels"]["alertname"][8:].isalnum() or body["labels"]["alertname"] == "Pairflow"
    assert body["labels"]["source"] == source and body["annotations"]["summary"] == message
    assert body["startsAt"] == "1970-01-01T00:00:00.000+00:00"
    json.dumps(body)


def test_a_bytewax_flow_posts_its_alerts_through_the_sink(tmp_path: Path):
    """The flow-facing sink: (key, Alert) items from a dataflow reach Alertmanager, one outbox per worker."""
    port = free_port()
    flow = Dataflow("alerts")
    alerts = [("ETH", _alert(10, source="reconciliation")), ("SOL", _alert(11, severity="warning"))]
    op.output("alertmanager", op.input("in", flow, TestingSource(alerts)),
              AlertSink(f"http://127.0.0.1:{port}", tmp_path / "outbox", retry_backoff_s=0.05))
    with alertmanager(port, tmp_path / "am") as url:
        run_main(flow)
        assert set(_active_alerts(url)) == {"alert-10", "alert-11"}
    assert (tmp_path / "outbox" / "worker-0" / "outbox.jsonl").read_bytes() == b""


def test_a_torn_outbox_line_is_skipped_and_the_rest_kept(tmp_path: Path):
    """A crash inside `send` can leave half a line; the alerts before it are still sent."""
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "outbox.jsonl").write_bytes(encode(_alert(20)) + b"\n" + encode(_alert(21)) + b"\n" + b'{"ts":17000')
    port = free_port()
    with alertmanager(port, tmp_path / "am") as url:
        sink = AlertmanagerSink(url, outbox, retry_backoff_s=0.05)
        assert sink.flush(timeout_s=10)
        sink.close()
        assert set(_active_alerts(url)) == {"alert-20", "alert-21"}


def test_an_alert_stamped_by_a_clock_ahead_of_alertmanagers_is_accepted(tmp_path: Path):
    """A fast venue clock stamps alerts hours ahead; Alertmanager still takes them, the event time kept."""
    ahead = WALL_CLOCK.now_ms() + 7_200_000
    port = free_port()
    with alertmanager(port, tmp_path / "am") as url:
        sink = AlertmanagerSink(url, tmp_path / "outbox", retry_backoff_s=0.05)
        sink.send(Alert(ts=ahead, id="ahead", severity="warning", source="risk", message="VaR over"))
        assert sink.flush(timeout_s=10)
        sink.close()
        active = _active_alerts(url)
    assert not (tmp_path / "outbox" / "rejected.jsonl").exists()
    assert active["ahead"]["annotations"]["event_time"] == postable_alert(
        Alert(ts=ahead, id="x", severity="info", source="x", message=""))["startsAt"]


@given(ts=st.integers(0, 4_000_000_000_000), now=st.integers(0, 4_000_000_000_000))
def test_an_alert_never_starts_after_the_posting_time(ts, now):
    body = postable_alert(Alert(ts=ts, id="x", severity="info", source="x", message="m"), now_ms=now)
    assert body["startsAt"] == postable_alert(Alert(ts=min(ts, now), id="x", severity="info", source="x",
                                                    message="m"))["startsAt"]
    assert ("event_time" in body["annotations"]) == (ts > now)


def test_a_ledger_past_twice_its_bound_is_rewritten_to_its_newest_ids(tmp_path: Path):
    """The settled ids stay bounded, the rewrite leaves no temporary file, and the kept ids still skip a replay."""
    ledger = tmp_path / "delivered.ids"
    ledger.write_bytes(b"".join(f"alert-{number}\n".encode() for number in range(20_001)))
    sink = AlertmanagerSink(None, tmp_path)
    assert ledger.read_bytes().splitlines() == [f"alert-{number}".encode() for number in range(10_001, 20_001)]
    assert [path.name for path in tmp_path.iterdir()] == ["delivered.ids"]
    duplicates = sample("pairflow_alerts_duplicates_total")
    sink.send(_alert(20_000))
    assert sample("pairflow_alerts_duplicates_total") == duplicates + 1
    sink.send(_alert(10_000))
    assert sample("pairflow_alerts_duplicates_total") == duplicates + 1
    sink.close()
