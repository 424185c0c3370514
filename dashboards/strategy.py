"""Strategy: spreads, hedge ratios, z-scores, decisions, model features and the pair scan."""

from __future__ import annotations

from grafanalib.core import Dashboard

from dashboards.panels import Layout, ch_table, ch_timeseries, pairflow_dashboard, prom_timeseries

__all__ = ["dashboard"]


def dashboard() -> Dashboard:
    """Build the Strategy dashboard."""
    grid = Layout()
    panels = [
        ch_timeseries(grid, "Z-score per pair", "strategy/zscore.sql"),
        ch_timeseries(grid, "Spread per pair", "strategy/spread.sql"),
        ch_timeseries(grid, "Hedge ratio per pair", "strategy/hedge_ratio.sql"),
        ch_timeseries(grid, "Target position per pair", "strategy/target.sql",
                      description="Signed fraction of the configured notional: +1 long the spread, -1 short, 0 flat."),
        ch_timeseries(grid, "Decisions by reason", "strategy/decisions_by_reason.sql"),
        ch_timeseries(grid, "Model and cost features", "strategy/model_features.sql"),
        prom_timeseries(grid, "Signals per second by pair (live)", [
            ("sum by (pair) (rate(pairflow_strategy_signals_total[1m])) or on() vector(0)", "{{pair}}")],
            unit="ops", description="Zero until the strategy has warmed up and decides."),
        prom_timeseries(grid, "Refused events and spreads (live)", [
            ("sum by (reason) (increase(pairflow_strategy_refused_events_total[10m])) or on() vector(0)",
             "events: {{reason}}"),
            ("sum by (reason) (pairflow_strategy_refused_spreads_total) or on() vector(0)", "spreads: {{reason}}"),
        ]),
        ch_table(grid, "Latest signals", "strategy/recent_signals.sql", width=24),
        ch_table(grid, "Pair scan", "strategy/pair_scan.sql", width=24,
                 description="Newest scan result of each candidate pair: cointegration, half-life, Hurst, rank."),
    ]
    return pairflow_dashboard("Strategy", "pairflow-strategy", panels)
