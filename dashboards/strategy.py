"""Strategy: spreads, hedge ratios, z-scores, signals and the pair scan, from the strategy's tables."""

from __future__ import annotations

from grafanalib.core import Dashboard

from dashboards.panels import Layout, ch_table, ch_timeseries, pairflow_dashboard

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
        ch_table(grid, "Latest signals", "strategy/recent_signals.sql", width=24),
        ch_table(grid, "Pair scan", "strategy/pair_scan.sql", width=24,
                 description="Newest scan result of each candidate pair: cointegration, half-life, Hurst, rank."),
    ]
    return pairflow_dashboard("Strategy", "pairflow-strategy", panels)
