"""Which table each event type is stored in, and fast event-to-column conversion."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import msgspec

from pairflow import events

__all__ = ["TABLE_OF_EVENT", "row_converter", "table_for"]

TABLE_OF_EVENT: dict[type[events.Event], str] = {
    events.Trade: "trades",
    events.BookSnapshot: "l2_snapshots",
    events.Bbo: "bbo",
    events.Candle: "candles",
    events.Funding: "funding",
    events.AssetContext: "asset_ctx",
    events.FeeSchedule: "fees",
    events.PairStats: "pair_stats",
    events.Signal: "signals",
    events.Order: "orders",
    events.Fill: "fills",
    events.Position: "positions",
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


def row_converter(event_type: type[msgspec.Struct], columns: Sequence[str]) -> Callable[[Any], tuple]:
    """Return a function turning one event into a tuple ordered like ``columns``.

    Raises
    ------
    ValueError
        When a column has no field of the same name on the event type.
    """
    fields = event_type.__struct_fields__
    missing = [column for column in columns if column not in fields]
    if missing:
        raise ValueError(f"{event_type.__name__} has no field for column(s) {', '.join(missing)}")
    if tuple(columns) == tuple(fields):
        return msgspec.structs.astuple
    positions = [fields.index(column) for column in columns]
    pick = itemgetter(*positions)
    if len(positions) == 1:
        return lambda event: (pick(msgspec.structs.astuple(event)),)
    return lambda event: pick(msgspec.structs.astuple(event))
