"""Alert sink: pairflow's own alerts (``pf.alerts``) posted to Alertmanager, never lost.

Risk breaches, reconciliation mismatches and the kill switch are events, not
metrics, so no Prometheus rule sees them; this sink posts them to
Alertmanager's v2 API, where they meet the rule alerts and follow the same
routes (``infra/alertmanager/``), so one place notifies.

Every alert is logged and (given a writer on the ``alerts`` table) stored the
moment it arrives, then appended to an outbox file and fsynced before the
post is tried. The outbox is rewritten only after Alertmanager accepted the
alerts, so an unreachable Alertmanager, a restart or a crash delays a
notification but never loses it: a sink opened on the same outbox directory
sends what is left. A crash between Alertmanager's answer and the outbox
rewrite posts an alert twice; Alertmanager merges them (same labels, and the
event id is one of them). Failed posts are retried with capped exponential
backoff. An alert Alertmanager refuses as invalid (HTTP 400) cannot succeed
by retrying; it is moved to ``rejected.jsonl`` beside the outbox and logged.

Flows hand alerts over at least once: a resumed relay reads again what came
after its last snapshot, and a resumed desk emits its last batch again. The
ids of settled alerts are therefore appended to ``delivered.ids`` (before the
outbox drops them), and an alert whose id is queued or settled is skipped, so
a replay notifies no one twice. Alerts below ``min_severity`` are logged and
stored but not posted: a refused signal is worth a row, not a page.
"""

from __future__ import annotations

import os
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from pairflow.clock import WALL_CLOCK, Clock
from pairflow.config import AlertingSettings
from pairflow.durable_file import make_directories, open_append, replace_file
from pairflow.events import Alert, decode, encode
from pairflow.logs import get_logger
from pairflow.metrics import (
    ALERTS_DELIVERED, ALERTS_DUPLICATES, ALERTS_PENDING, ALERTS_POST_FAILURES, ALERTS_RECEIVED,
)

__all__ = ["AlertmanagerSink", "AlertSink", "postable_alert"]

_log = get_logger(__name__)
_LOG_METHOD = {"info": "info", "warning": "warning", "critical": "critical"}
_RANK = {"info": 0, "warning": 1, "critical": 2}
# Settled ids remembered for deduplication: far more than a replay window holds.
_LEDGER_SIZE = 10_000


def postable_alert(alert: Alert, generator_url: str = "", now_ms: int | None = None) -> dict[str, Any]:
    """Return ``alert`` in Alertmanager's v2 ``postableAlert`` shape.

    The ``alertname`` is ``Pairflow`` plus the source in CamelCase, so
    routes and silences can match it like a rule's alert; the event id is a
    label, so two alerts from one source stay two notifications. An event
    time after ``now_ms`` (a venue clock running faster than the wall clock)
    starts the alert at ``now_ms`` instead, with the event time kept as the
    ``event_time`` annotation: Alertmanager ends an alert that carries no end
    a few minutes after its own now, and refuses one that starts after it ends.

    >>> postable_alert(Alert(ts=0, id="a1", severity="critical", source="risk.drawdown", message="halted"))["labels"]
    {'alertname': 'PairflowRiskDrawdown', 'severity': 'critical', 'source': 'risk.drawdown', 'alert_id': 'a1'}
    """
    words = re.split(r"[^0-9A-Za-z]+", alert.source)
    labels = {
        "alertname": "Pairflow" + "".join(word[:1].upper() + word[1:] for word in words),
        "severity": alert.severity,
        "source": alert.source,
        "alert_id": alert.id,
    }
    if alert.coin:
        labels["coin"] = alert.coin
    annotations = {"summary": alert.message}
    starts_ms = alert.ts
    if now_ms is not None and alert.ts > now_ms:
        annotations["event_time"] = _iso(alert.ts)
        starts_ms = now_ms
    body: dict[str, Any] = {"labels": labels, "annotations": annotations, "startsAt": _iso(starts_ms)}
    if generator_url:
        body["generatorURL"] = generator_url
    return body


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


class AlertmanagerSink:
    """Log, store and post `Alert` events to Alertmanager from a background thread.

    Parameters
    ----------
    url
        Alertmanager base URL, e.g. ``http://127.0.0.1:9093``; None only logs
        and stores (no Alertmanager configured).
    outbox_dir
        Where alerts wait until Alertmanager accepted them (``outbox.jsonl``),
        and the ids of those it accepted (``delivered.ids``).
    writer
        Optional `pairflow.storage.BatchWriter` on the ``alerts`` table.
    retry_backoff_s, retry_backoff_max_s
        First and largest delay between failed posts.
    timeout_s
        Bound of one HTTP post.
    min_severity
        Least severity posted; lower alerts are only logged and stored.
    clock
        The wall clock Alertmanager's own is compared with (see `postable_alert`).
    """

    def __init__(
        self,
        url: str | None,
        outbox_dir: Path,
        *,
        writer: Any = None,
        retry_backoff_s: float = 1.0,
        retry_backoff_max_s: float = 60.0,
        timeout_s: float = 5.0,
        min_severity: str = "warning",
        clock: Clock = WALL_CLOCK,
    ) -> None:
        if min_severity not in _RANK:
            raise ValueError(f"min_severity must be one of {', '.join(_RANK)}, received {min_severity!r}")
        self.min_rank = _RANK[min_severity]
        self.clock = clock
        self.url = url.rstrip("/") + "/api/v2/alerts" if url else None
        self.outbox_dir = Path(outbox_dir)
        if self.url is not None:
            make_directories(self.outbox_dir)
        self.outbox = self.outbox_dir / "outbox.jsonl"
        self.rejected = self.outbox_dir / "rejected.jsonl"
        self.ledger = self.outbox_dir / "delivered.ids"
        self.writer = writer
        self.retry_backoff_s = retry_backoff_s
        self.retry_backoff_max_s = retry_backoff_max_s
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._settled = self._read_ledger()
        self._pending: list[Alert] = [alert for alert in self._read_outbox() if alert.id not in self._settled]
        self._queued = {alert.id for alert in self._pending}
        ALERTS_PENDING.set(len(self._pending))
        self._client = httpx.Client(timeout=timeout_s)
        self._thread: threading.Thread | None = None
        if self.url is not None:
            self._thread = threading.Thread(target=self._run, name="alertmanager-sink", daemon=True)
            self._thread.start()
            if self._pending:
                _log.warning("alerts left in the outbox will be sent", pending=len(self._pending))
                self._wake.set()

    @classmethod
    def from_settings(cls, settings: AlertingSettings, writer: Any = None) -> AlertmanagerSink:
        """Build the sink of a process from its ``[alerting]`` settings."""
        return cls(settings.alertmanager_url, settings.outbox_dir, writer=writer,
                   retry_backoff_max_s=settings.retry_backoff_max_s, min_severity=settings.min_severity)

    @property
    def pending(self) -> int:
        """Return how many alerts wait for Alertmanager."""
        with self._lock:
            return len(self._pending)

    def send(self, alert: Alert) -> None:
        """Log and store ``alert`` now, and queue it durably for Alertmanager; skip an id seen before."""
        with self._lock:
            seen = alert.id in self._queued or alert.id in self._settled
        if seen:
            ALERTS_DUPLICATES.inc()
            _log.debug("alert already queued or delivered; skipped", alert_id=alert.id)
            return
        ALERTS_RECEIVED.labels(alert.severity).inc()
        getattr(_log, _LOG_METHOD.get(alert.severity, "warning"))(
            alert.message, alert_id=alert.id, source=alert.source, severity=alert.severity, coin=alert.coin
        )
        if self.writer is not None:
            self.writer.add(alert)
        if self.url is None or _RANK.get(alert.severity, 2) < self.min_rank:
            return
        try:
            postable_alert(alert)
        except (ValueError, OverflowError) as error:
            _log.error("alert cannot be posted to Alertmanager; kept in rejected.jsonl", alert_id=alert.id,
                       error=str(error))
            with self._lock:
                _append(self.rejected, [alert])
            return
        with self._lock:
            _append(self.outbox, [alert])
            self._pending.append(alert)
            self._queued.add(alert.id)
            ALERTS_PENDING.set(len(self._pending))
        self._wake.set()

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait up to ``timeout_s`` for the outbox to drain; return True when it is empty."""
        self._wake.set()
        end = time.monotonic() + timeout_s
        while self.pending and time.monotonic() < end:
            time.sleep(0.02)
        return not self.pending

    def close(self, timeout_s: float = 5.0) -> None:
        """Try to deliver what is pending for up to ``timeout_s``, then stop; the rest stays in the outbox."""
        if self._thread is not None:
            self.flush(timeout_s)
            self._stop.set()
            self._wake.set()
            self._thread.join(timeout=timeout_s + 1)
        self._client.close()
        if self.pending:
            _log.warning("alerts not yet accepted by Alertmanager stay in the outbox", pending=self.pending,
                         outbox=str(self.outbox))

    def _run(self) -> None:
        delay = self.retry_backoff_s
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._lock:
                batch = list(self._pending)
            if not batch:
                continue
            if self._post(batch):
                delay = self.retry_backoff_s
                continue
            self._stop.wait(delay)
            delay = min(delay * 2, self.retry_backoff_max_s)
            self._wake.set()

    def _post(self, batch: list[Alert]) -> bool:
        try:
            now_ms = self.clock.now_ms()
            response = self._client.post(self.url, json=[postable_alert(alert, now_ms=now_ms) for alert in batch])
        except httpx.HTTPError as error:
            ALERTS_POST_FAILURES.inc()
            _log.warning("Alertmanager unreachable; alerts kept in the outbox", error=str(error), pending=len(batch))
            return False
        if response.status_code == 400:
            _log.error("Alertmanager refused the alerts; moved to rejected.jsonl", answer=response.text[:300])
            self._settle(batch, rejected=True)
            return True
        if response.is_success:
            self._settle(batch, rejected=False)
            ALERTS_DELIVERED.inc(len(batch))
            return True
        ALERTS_POST_FAILURES.inc()
        _log.warning("Alertmanager answered an error; alerts kept in the outbox", status=response.status_code)
        return False

    def _settle(self, batch: list[Alert], rejected: bool) -> None:
        """Record ``batch`` as settled, then remove it from the outbox (keeping alerts queued meanwhile)."""
        done = {alert.id for alert in batch}
        with self._lock:
            if rejected:
                _append(self.rejected, batch)
            _append_lines(self.ledger, [alert.id.encode() for alert in batch])
            self._settled.update(done)
            if len(self._settled) > 2 * _LEDGER_SIZE:
                self._settled = self._read_ledger()
            self._queued -= done
            self._pending = [alert for alert in self._pending if alert.id not in done]
            replace_file(self.outbox, lambda out: out.writelines(encode(alert) + b"\n" for alert in self._pending))
            ALERTS_PENDING.set(len(self._pending))

    def _read_ledger(self) -> set[str]:
        """Return the newest settled ids; a ledger grown past twice its bound is rewritten to the bound."""
        if not self.ledger.exists():
            return set()
        lines = [line for line in self.ledger.read_bytes().splitlines() if line]
        kept = lines[-_LEDGER_SIZE:]
        if len(lines) > 2 * _LEDGER_SIZE:
            replace_file(self.ledger, lambda out: out.writelines(line + b"\n" for line in kept))
        return {line.decode("utf-8", errors="replace") for line in kept}

    def _read_outbox(self) -> list[Alert]:
        if not self.outbox.exists():
            return []
        alerts = []
        for number, line in enumerate(self.outbox.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                alerts.append(decode(line, Alert))
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                # A torn last line: the process died inside `send`, which therefore never returned,
                # so the flow feeding this sink hands the alert over again when it resumes.
                _log.error("unreadable outbox line skipped", outbox=str(self.outbox), line=number, error=str(error))
        return alerts


def _append(path: Path, alerts: list[Alert]) -> None:
    """Append alerts as JSON lines and fsync (a new file's directory too), so an accepted `send` survives a crash."""
    _append_lines(path, [encode(alert) for alert in alerts])


def _append_lines(path: Path, lines: list[bytes]) -> None:
    with open_append(path) as handle:
        handle.write(b"".join(line + b"\n" for line in lines))
        handle.flush()
        os.fsync(handle.fileno())


class _AlertPartition(StatelessSinkPartition[Any]):
    def __init__(self, sink: AlertmanagerSink) -> None:
        self._sink = sink

    def write_batch(self, items: list[Any]) -> None:
        for item in items:
            alert = item[1] if isinstance(item, tuple) else item
            self._sink.send(alert)

    def close(self) -> None:
        self._sink.close()


class AlertSink(DynamicSink[Any]):
    """Bytewax sink of `Alert` items (or ``(key, Alert)`` pairs); one outbox per worker under ``outbox_dir``."""

    def __init__(self, url: str | None, outbox_dir: Path, **options: Any) -> None:
        self.url = url
        self.outbox_dir = Path(outbox_dir)
        self.options = options

    @classmethod
    def from_settings(cls, settings: AlertingSettings) -> AlertSink:
        """Build the sink of a flow from its ``[alerting]`` settings (rows are stored by the flow's store sink)."""
        return cls(settings.alertmanager_url, settings.outbox_dir, retry_backoff_max_s=settings.retry_backoff_max_s,
                   min_severity=settings.min_severity)

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _AlertPartition:
        """Open this worker's outbox and start its poster."""
        return _AlertPartition(AlertmanagerSink(self.url, self.outbox_dir / f"worker-{worker_index}", **self.options))
