"""System: processes, the storage writer, the ingest flow, the broker and the logs."""

from __future__ import annotations

from grafanalib.core import Dashboard

from dashboards.panels import Layout, ch_table, ch_timeseries, pairflow_dashboard, prom_timeseries

__all__ = ["dashboard"]

_PAIRFLOW = '{job=~"pairflow-.*"}'


def dashboard() -> Dashboard:
    """Build the System dashboard."""
    grid = Layout()
    panels = [
        prom_timeseries(grid, "Processes up", [(f"up{_PAIRFLOW}", "{{job}} {{instance}}")], width=8),
        prom_timeseries(grid, "CPU per process", [
            (f"rate(process_cpu_seconds_total{_PAIRFLOW}[1m])", "{{job}}")], unit="percentunit", width=8),
        prom_timeseries(grid, "Memory per process", [
            (f"process_resident_memory_bytes{_PAIRFLOW}", "{{job}}")], unit="bytes", width=8),
        prom_timeseries(grid, "Rows written by table", [
            ("sum by (table) (rate(pairflow_storage_rows_written_total[1m]))", "{{table}}")], unit="rowsps"),
        prom_timeseries(grid, "Writer trouble: retried, spilled, rejected rows", [
            ("sum by (table) (rate(pairflow_storage_rows_retried_total[5m])) or on() vector(0)", "retried {{table}}"),
            ("sum by (table) (rate(pairflow_storage_rows_spilled_total[5m])) or on() vector(0)", "spilled {{table}}"),
            ("sum by (table) (rate(pairflow_storage_rows_rejected_total[5m])) or on() vector(0)", "rejected {{table}}"),
        ], unit="rowsps"),
        prom_timeseries(grid, "Writer flush time p95", [
            ("histogram_quantile(0.95, sum by (le, table) (rate(pairflow_storage_flush_seconds_bucket[5m])))",
             "p95 {{table}}"),
        ], unit="s"),
        prom_timeseries(grid, "Rows held in memory by writers", [
            ("sum by (table) (pairflow_storage_buffered_rows)", "{{table}}")]),
        prom_timeseries(grid, "Ingest flow: records in, epoch write p95", [
            ("sum by (topic) (rate(pairflow_ingest_messages_in_total[1m]))", "in {{topic}}"),
            ("histogram_quantile(0.95, sum by (le) (rate(pairflow_ingest_write_seconds_bucket[5m])))", "write p95 (s)"),
        ]),
        prom_timeseries(grid, "Late, duplicate and expired trades", [
            ("sum(rate(pairflow_ingest_late_trades_total[5m]))", "late"),
            ("sum(rate(pairflow_ingest_duplicate_trades_total[5m]))", "duplicate"),
            ("sum(rate(pairflow_ingest_expired_trades_total[5m]))", "expired"),
        ], unit="ops"),
        prom_timeseries(grid, "Broker: messages produced by topic", [
            ("sum by (topic) (rate(pairflow_kafka_produced_total[1m]))", "{{topic}}")], unit="ops"),
        prom_timeseries(grid, "Broker: producer queue, failures, back-pressure", [
            ("sum(pairflow_kafka_queue_depth)", "unacknowledged"),
            ("sum(increase(pairflow_kafka_delivery_failures_total[5m])) or on() vector(0)", "delivery failures (5 min)"),
            ("sum(increase(pairflow_kafka_backpressure_waits_total[5m]))", "back-pressure waits (5 min)"),
        ]),
        prom_timeseries(grid, "Broker: consumer lag by topic", [
            ("sum by (topic) (pairflow_ingest_consumer_lag_messages)", "{{topic}}")]),
        prom_timeseries(grid, "Venue market driver", [
            ("sum(rate(pairflow_venue_driver_steps_total[1m]))", "steps/s"),
            ("sum(increase(pairflow_venue_driver_errors_total[10m]))", "errors (10 min)"),
        ]),
        ch_timeseries(grid, "Log records by level", "system/logs_by_level.sql"),
        ch_table(grid, "Latest warnings and errors", "system/recent_problems.sql", width=24),
    ]
    return pairflow_dashboard("System", "pairflow-system", panels)
