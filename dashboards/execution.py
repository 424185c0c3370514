"""Execution: orders, fills, slippage, latency and rejections by reason.

The Prometheus panels read metrics the trader (issue 14) will export; they
are catalogued as pending in `pairflow.metrics` and show data once it does.
"""

from __future__ import annotations

from grafanalib.core import Dashboard

from dashboards.panels import Layout, ch_table, ch_timeseries, pairflow_dashboard, prom_timeseries

__all__ = ["dashboard"]


def dashboard() -> Dashboard:
    """Build the Execution dashboard."""
    grid = Layout()
    panels = [
        ch_timeseries(grid, "Order status changes", "execution/orders_by_status.sql"),
        ch_timeseries(grid, "Slippage against mid", "execution/slippage_bps.sql", unit="bps"),
        prom_timeseries(grid, "Orders submitted and rejected", [
            ("sum(rate(pairflow_execution_orders_submitted_total[5m]))", "submitted"),
            ("sum by (reason) (rate(pairflow_execution_orders_rejected_total[5m]))", "rejected: {{reason}}"),
        ], unit="ops"),
        ch_timeseries(grid, "Order-to-fill latency", "execution/fill_latency_ms.sql", unit="ms"),
        ch_table(grid, "Rejections by reason", "execution/rejections_by_reason.sql"),
        ch_table(grid, "Latest fills", "execution/recent_fills.sql", width=24),
    ]
    return pairflow_dashboard("Execution", "pairflow-execution", panels)
