"""Market data: is every coin flowing, how fast, how late, with which gaps and spreads."""

from __future__ import annotations

from grafanalib.core import Dashboard

from dashboards.panels import Layout, ch_table, ch_timeseries, pairflow_dashboard, prom_timeseries

__all__ = ["dashboard"]


def dashboard() -> Dashboard:
    """Build the Market data dashboard."""
    grid = Layout()
    panels = [
        prom_timeseries(grid, "Events emitted by topic", [
            ("sum by (topic) (rate(pairflow_collector_messages_out_total[1m]))", "{{topic}}")], unit="ops"),
        prom_timeseries(grid, "WebSocket lag by channel (p50, p99)", [
            ("histogram_quantile(0.5, sum by (le, channel) (rate(pairflow_collector_lag_seconds_bucket[1m])))",
             "p50 {{channel}}"),
            ("histogram_quantile(0.99, sum by (le, channel) (rate(pairflow_collector_lag_seconds_bucket[1m])))",
             "p99 {{channel}}"),
        ], unit="s"),
        prom_timeseries(grid, "Seconds since the last event, per coin", [
            ("time() - max by (coin) (pairflow_collector_last_event_timestamp_seconds)", "{{coin}}")], unit="s",
            description="The alert PairflowNoMarketData fires above 60 s."),
        prom_timeseries(grid, "Embedded journal writes", [
            ("sum(rate(pairflow_journal_bytes_written_total[1m]))", "bytes/s")], unit="Bps",
            description="Embedded mode only: the durable journal between collector and ingest flow."),
        ch_timeseries(grid, "Trades stored per coin", "market_data/trades_per_interval.sql"),
        ch_timeseries(grid, "Traded notional per coin", "market_data/notional_per_interval.sql", unit="currencyUSD"),
        ch_timeseries(grid, "Price change since range start", "market_data/price_change_pct.sql", unit="percent"),
        ch_timeseries(grid, "Quoted spread per coin", "market_data/spread_bps.sql", unit="bps"),
        ch_timeseries(grid, "Exchange-to-receive lag of trades", "market_data/receive_lag_seconds.sql", unit="s"),
        prom_timeseries(grid, "Ingest lag by table", [
            ("max by (table) (pairflow_ingest_lag_seconds)", "{{table}}")], unit="s",
            description="Receive time of the newest row written to each table, subtracted from now."),
        prom_timeseries(grid, "Reconnects, REST errors and gaps (10 min)", [
            ("sum(increase(pairflow_collector_reconnects_total[10m]))", "reconnects"),
            ("sum(increase(pairflow_collector_rest_errors_total[10m])) or on() vector(0)", "REST errors"),
            ("sum by (stream, filled) (increase(pairflow_collector_gaps_total[10m])) or on() vector(0)",
             "gaps {{stream}} filled={{filled}}"),
        ], width=12),
        prom_timeseries(grid, "Malformed records and dead letters", [
            ("sum by (channel) (rate(pairflow_collector_malformed_total[5m])) or on() vector(0)",
             "collector {{channel}}"),
            ("sum by (topic) (rate(pairflow_ingest_malformed_total[5m])) or on() vector(0)", "dead letters {{topic}}"),
        ], unit="ops", width=12),
        ch_table(grid, "Gaps", "market_data/gaps.sql", width=24),
    ]
    return pairflow_dashboard("Market data", "pairflow-market-data", panels)
