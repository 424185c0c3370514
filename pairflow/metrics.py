"""The metric catalogue and the /metrics endpoint.

Every Prometheus metric pairflow exports is defined here, once, with its name,
type, labels and help text; modules import the metric object they update.
One list lets the alert rules and the dashboards be checked against what the
code really exports (``tests/unit/test_metric_catalogue.py``): a rule or panel
naming an unknown metric fails, and so does a catalogued metric no code path
updates.

Metric names follow ``pairflow_<area>_<what>_<unit>``; counters are exported
with prometheus_client's ``_total`` suffix. A metric whose producer is not
built yet carries ``pending="<who>"``: the alert rules and dashboards already
use it, and the catalogue test fails once code updates it while it is still
marked pending (so the mark is removed when the producer lands).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["CATALOGUE", "MetricSpec", "serve_metrics", "spec_of_series", "stop_metrics"]

_LOCK = threading.Lock()
_SERVERS: dict[int, tuple[WSGIServer, threading.Thread]] = {}

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": (),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}
_KINDS = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}


@dataclass(frozen=True)
class MetricSpec:
    """One catalogue entry: what a metric is, as Prometheus and the rules see it."""

    name: str
    kind: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None
    pending: str = ""

    def series_names(self) -> tuple[str, ...]:
        """Return the series names Prometheus stores for this metric (``name`` plus its type's suffixes)."""
        if self.kind == "counter":
            return tuple(self.name + suffix for suffix in _SUFFIXES["counter"])
        return (self.name, *(self.name + suffix for suffix in _SUFFIXES[self.kind]))


CATALOGUE: dict[str, MetricSpec] = {}


def _define(kind: str, name: str, help: str, labels: Sequence[str] = (), *, buckets: Sequence[float] | None = None,
            pending: str = ""):
    spec = MetricSpec(name, kind, help, tuple(labels), tuple(buckets) if buckets else None, pending)
    if name in CATALOGUE:
        raise ValueError(f"metric {name} is defined twice in the catalogue")
    CATALOGUE[name] = spec
    extra = {"buckets": spec.buckets} if spec.buckets else {}
    metric = _KINDS[kind](name, help, labelnames=spec.labels, **extra)
    return metric


def spec_of_series(series: str) -> MetricSpec | None:
    """Return the catalogue entry a Prometheus series name belongs to (``x_total`` -> counter ``x``), or None.

    >>> spec_of_series("pairflow_storage_rows_written_total").kind
    'counter'
    >>> spec_of_series("pairflow_no_such_metric") is None
    True
    """
    for spec in CATALOGUE.values():
        if series in spec.series_names():
            return spec
    return None


_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# --- collector (sources/collector.py, sources/gaps.py, sources/backfill.py) ---
COLLECTOR_MESSAGES_IN = _define(
    "counter", "pairflow_collector_messages_in", "WebSocket frames and REST answers received.", ["channel"]
)
COLLECTOR_MESSAGES_OUT = _define("counter", "pairflow_collector_messages_out", "Events handed to emit.", ["topic"])
COLLECTOR_MALFORMED = _define(
    "counter", "pairflow_collector_malformed", "Frames or records skipped because they could not be parsed.", ["channel"]
)
COLLECTOR_RECONNECTS = _define(
    "counter", "pairflow_collector_reconnects", "WebSocket reconnections after a drop or a stale stream."
)
COLLECTOR_REST_ERRORS = _define(
    "counter", "pairflow_collector_rest_errors", "REST requests that failed after retries.", ["request"]
)
COLLECTOR_LAG_SECONDS = _define(
    "histogram", "pairflow_collector_lag_seconds", "Receive time minus exchange time of WebSocket events.",
    ["channel"], buckets=_LAG_BUCKETS,
)
COLLECTOR_LAST_EVENT = _define(
    "gauge", "pairflow_collector_last_event_timestamp_seconds",
    "Wall-clock time (epoch seconds) of the last market-data event emitted for a coin.", ["coin"],
)
COLLECTOR_GAPS = _define(
    "counter", "pairflow_collector_gaps", "Missed spans of a stream, by whether REST filled them.", ["stream", "filled"]
)
JOURNAL_BYTES_WRITTEN = _define(
    "counter", "pairflow_journal_bytes_written", "Bytes appended to the embedded-mode journal."
)
BACKFILL_ROWS = _define("counter", "pairflow_backfill_rows", "Rows fetched by REST backfill.", ["table"])
BACKFILL_SKIPPED_PAGES = _define(
    "counter", "pairflow_backfill_skipped_pages", "Backfill pages skipped because they could not be parsed.", ["table"]
)

# --- broker producer (sinks/kafka.py) ---
KAFKA_PRODUCED = _define("counter", "pairflow_kafka_produced", "Messages acknowledged by the broker.", ["topic"])
KAFKA_DELIVERY_FAILURES = _define(
    "counter", "pairflow_kafka_delivery_failures", "Delivery attempts that failed (the message is re-sent).",
    ["topic", "reason"],
)
KAFKA_BACKPRESSURE_WAITS = _define(
    "counter", "pairflow_kafka_backpressure_waits", "Times produce blocked because the local buffer was full."
)
KAFKA_QUEUE_DEPTH = _define(
    "gauge", "pairflow_kafka_queue_depth", "Messages handed to the producer and not yet acknowledged."
)
KAFKA_PRODUCER_RESETS = _define(
    "counter", "pairflow_kafka_producer_resets", "Times the producer was rebuilt to re-send stuck messages."
)
KAFKA_RESENT = _define("counter", "pairflow_kafka_resent", "Messages sent again after a producer rebuild.")
KAFKA_UNDELIVERED = _define(
    "counter", "pairflow_kafka_undelivered", "Messages still unacknowledged when a sink was closed."
)

# --- ingest flow (flows/, sources/kafka_source.py, sinks/clickhouse.py) ---
INGEST_MESSAGES_IN = _define("counter", "pairflow_ingest_messages_in", "Records read by the ingest flow.", ["topic"])
INGEST_MALFORMED = _define(
    "counter", "pairflow_ingest_malformed", "Records that could not be decoded or failed validation (dead letters).",
    ["topic"],
)
INGEST_LATE_TRADES = _define(
    "counter", "pairflow_ingest_late_trades", "Trades that arrived after their bar was emitted (bar revised)."
)
INGEST_DUPLICATE_TRADES = _define(
    "counter", "pairflow_ingest_duplicate_trades", "Trades dropped as duplicates of a counted trade."
)
INGEST_EXPIRED_TRADES = _define(
    "counter", "pairflow_ingest_expired_trades", "Trades too old to correct their bar; dropped."
)
INGEST_MESSAGES_OUT = _define(
    "counter", "pairflow_ingest_messages_out", "Rows the ingest flow handed to the store.", ["table"]
)
INGEST_WRITE_SECONDS = _define(
    "histogram", "pairflow_ingest_write_seconds",
    "Time to flush one epoch's rows to the store (all tables of one writer partition).",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
INGEST_LAG_SECONDS = _define(
    "gauge", "pairflow_ingest_lag_seconds",
    "Local receive time of the newest row written to a table, subtracted from now.", ["table"],
)
INGEST_SOURCE_ERRORS = _define(
    "counter", "pairflow_ingest_source_errors", "Errors reported by the Kafka consumer (e.g. broker down)."
)
INGEST_CONSUMER_LAG = _define(
    "gauge", "pairflow_ingest_consumer_lag_messages",
    "Messages on the broker not yet read, per topic partition (from the last fetch).", ["topic", "partition"],
)
SOURCE_SILENT_PARTITIONS = _define(
    "counter", "pairflow_source_silent_partitions",
    "Times an event-time ordered reader stopped waiting for a partition that answered nothing.",
)

# --- storage writer (pairflow/storage/writer.py) and log mirror (pairflow/logs.py) ---
STORAGE_ROWS_WRITTEN = _define("counter", "pairflow_storage_rows_written", "Rows inserted into the store.", ["table"])
STORAGE_ROWS_RETRIED = _define(
    "counter", "pairflow_storage_rows_retried", "Rows whose insert was retried after a failure.", ["table"]
)
STORAGE_ROWS_SPILLED = _define(
    "counter", "pairflow_storage_rows_spilled", "Rows saved to spill files while the store was down.", ["table"]
)
STORAGE_ROWS_REPLAYED = _define("counter", "pairflow_storage_rows_replayed", "Rows inserted from spill files.", ["table"])
STORAGE_ROWS_REJECTED = _define(
    "counter", "pairflow_storage_rows_rejected",
    "Rows the store rejected (bad values), saved under spill_dir/<table>/rejected.", ["table"],
)
STORAGE_SPILL_FAILURES = _define(
    "counter", "pairflow_storage_spill_failures", "Batches that could not be spilled to disk.", ["table"]
)
STORAGE_FLUSH_SECONDS = _define(
    "histogram", "pairflow_storage_flush_seconds", "Time to insert one batch (including retries).", ["table"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
STORAGE_BUFFERED_ROWS = _define(
    "gauge", "pairflow_storage_buffered_rows", "Rows held in memory by writers (buffer + unsaved).", ["table"]
)
LOGS_MIRROR_DROPPED = _define(
    "counter", "pairflow_logs_mirror_dropped", "Log records not mirrored to ClickHouse because the writer was full."
)

# --- venue (venue/clock.py, venue/service.py) ---
VENUE_DRIVER_STEPS = _define("counter", "pairflow_venue_driver_steps", "Market-driver steps run by the venue.")
VENUE_DRIVER_ERRORS = _define(
    "counter", "pairflow_venue_driver_errors", "Market-driver steps that raised and were skipped."
)
VENUE_SNAPSHOTS = _define("counter", "pairflow_venue_snapshots", "Venue state snapshots written to the data directory.")
VENUE_SNAPSHOT_SECONDS = _define(
    "gauge", "pairflow_venue_snapshot_seconds", "Wall seconds the last venue snapshot took."
)
VENUE_SIM_TIME_MS = _define("gauge", "pairflow_venue_sim_time_ms", "Simulated venue time in epoch milliseconds.")

# --- pairflow's own alerts (sinks/alerts.py) ---
ALERTS_RECEIVED = _define(
    "counter", "pairflow_alerts_received", "pf.alerts events handed to the Alertmanager sink.", ["severity"]
)
ALERTS_DELIVERED = _define("counter", "pairflow_alerts_delivered", "Alerts Alertmanager accepted.")
ALERTS_PENDING = _define(
    "gauge", "pairflow_alerts_pending", "Alerts waiting in the outbox for Alertmanager to accept them."
)
ALERTS_DUPLICATES = _define(
    "counter", "pairflow_alerts_duplicates",
    "Alerts skipped because one with the same id was already queued or delivered (a replay after a restart).",
)
ALERTS_POST_FAILURES = _define(
    "counter", "pairflow_alerts_post_failures", "Posts to Alertmanager that failed (the alerts stay in the outbox)."
)

# --- strategy (flows/strategy.py) ---
STRATEGY_SIGNALS = _define(
    "counter", "pairflow_strategy_signals", "Signals the strategy emitted, per pair.", ["pair"]
)
STRATEGY_REFUSED_EVENTS = _define(
    "counter", "pairflow_strategy_refused_events",
    "Events a spread refused without a signal and without changing its state, by reason.", ["pair", "reason"],
)
STRATEGY_REFUSED_SPREADS = _define(
    "counter", "pairflow_strategy_refused_spreads",
    "Configured spreads not traded because a leg is not listed or is delisted.", ["reason"],
)

# --- execution and risk (issue 14): the order router and the desk ---
EXECUTION_ORDERS_SUBMITTED = _define(
    "counter", "pairflow_execution_orders_submitted",
    "Order intents that reached the risk checks (accepted or rejected).", ["coin"],
)
EXECUTION_ORDERS_REJECTED = _define(
    "counter", "pairflow_execution_orders_rejected",
    "Orders rejected by an inline risk check or by the venue, by reason.", ["coin", "reason"],
)
EXECUTION_RECONCILIATION_MISMATCHES = _define(
    "counter", "pairflow_execution_reconciliation_mismatches",
    "Differences found between local state and the venue at a reconciliation.", ["kind"],
)
RISK_DRAWDOWN_RATIO = _define(
    "gauge", "pairflow_risk_drawdown_ratio", "Drawdown from the equity peak as a fraction of the peak.", ["scope"],
)
RISK_DRAWDOWN_LIMIT_RATIO = _define(
    "gauge", "pairflow_risk_drawdown_limit_ratio", "Configured drawdown at which the kill switch engages.",
)
RISK_VAR_USD = _define(
    "gauge", "pairflow_risk_var_usd", "Portfolio value at risk in USD, by method and confidence.",
    ["method", "confidence"],
)
RISK_VAR_LIMIT_USD = _define(
    "gauge", "pairflow_risk_var_limit_usd", "Configured value-at-risk limit in USD."
)


def serve_metrics(port: int, host: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY) -> int:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread and return the bound port.

    Parameters
    ----------
    port
        Port to bind; 0 binds a free ephemeral port (tests). Callers honour the
        config convention "``metrics.port = 0`` means off" by not calling this.
    host
        Interface to bind.
    registry
        Registry to expose.
    """
    server, thread = start_http_server(port, addr=host, registry=registry)
    bound = server.server_address[1]
    with _LOCK:
        _SERVERS[bound] = (server, thread)
    return bound


def stop_metrics(port: int) -> None:
    """Stop the /metrics server bound to ``port`` by `serve_metrics`."""
    with _LOCK:
        entry = _SERVERS.pop(port, None)
    if entry is not None:
        server, thread = entry
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
