"""Which table each event type is stored in.

Every event type has a table except `L2Book`: raw books are sampled into
`BookSnapshot` rows by the ingest flow rather than stored whole.
"""

from __future__ import annotations

from pairflow import events

__all__ = ["TABLE_OF_EVENT", "table_for"]

TABLE_OF_EVENT: dict[type[events.Event], str] = {
    events.Trade: "trades",
    events.BookSnapshot: "l2_snapshots",
    events.Bbo: "bbo",
    events.Candle: "candles",
    events.Funding: "funding",
    events.AssetContext: "asset_ctx",
    events.FeeSchedule: "fees",
    events.Delisting: "delistings",
    events.PairStats: "pair_stats",
    events.StrategyParams: "strategy_params",
    events.Signal: "signals",
    events.OrderIntent: "intents",
    events.Order: "orders",
    events.Fill: "fills",
    events.Position: "positions",
    events.FundingPayment: "funding_payments",
    events.Pnl: "pnl",
    events.RiskMetric: "risk_metrics",
    events.Alert: "alerts",
    events.Gap: "gaps",
    events.LogRecord: "logs",
}

_BAR_TABLES = {"1s": "bars_1s", "1m": "bars_1m"}


def table_for(event: events.Event) -> str:
    """Return the table an event is stored in.

    Raises
    ------
    KeyError
        For event types that are not stored as-is (e.g. L2Book, which is
        sampled into BookSnapshot first) or bars of an interval with no table.
    """
    if isinstance(event, events.Bar):
        try:
            return _BAR_TABLES[event.interval]
        except KeyError:
            raise KeyError(f"no table stores bars of interval {event.interval!r}") from None
    try:
        return TABLE_OF_EVENT[type(event)]
    except KeyError:
        raise KeyError(f"no table stores {type(event).__name__} events") from None
