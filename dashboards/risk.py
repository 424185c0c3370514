"""Risk and PnL: equity, drawdown, PnL components, VaR/ES, exposure per coin and pairflow's own alerts."""

from __future__ import annotations

from grafanalib.core import Dashboard

from dashboards.panels import Layout, ch_table, ch_timeseries, pairflow_dashboard, prom_timeseries

__all__ = ["dashboard"]


def dashboard() -> Dashboard:
    """Build the Risk and PnL dashboard."""
    grid = Layout()
    panels = [
        ch_timeseries(grid, "Equity", "risk/equity.sql", unit="currencyUSD"),
        ch_timeseries(grid, "Drawdown from peak", "risk/drawdown.sql", unit="percent"),
        ch_timeseries(grid, "PnL components", "risk/pnl_components.sql", unit="currencyUSD"),
        ch_timeseries(grid, "VaR and ES", "risk/var_es.sql", unit="currencyUSD"),
        ch_timeseries(grid, "Exposure per coin", "risk/exposure_by_coin.sql", unit="currencyUSD"),
        prom_timeseries(grid, "Limits (live)", [
            ("max by (scope) (pairflow_risk_drawdown_ratio)", "drawdown {{scope}}"),
            ("max(pairflow_risk_drawdown_limit_ratio)", "drawdown limit"),
        ], unit="percentunit", description="Published by the trader (issue 14) once it runs."),
        prom_timeseries(grid, "Alerts waiting for Alertmanager", [
            ("sum(pairflow_alerts_pending)", "pending"),
            ("sum(increase(pairflow_alerts_delivered_total[10m]))", "delivered (10 min)"),
        ]),
        ch_table(grid, "pairflow alerts", "risk/recent_alerts.sql"),
    ]
    return pairflow_dashboard("Risk and PnL", "pairflow-risk", panels)
