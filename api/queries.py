"""Bounded, parameterised reads of the store for the API's endpoints.

Every value a client sends is bound as a ``{name:Type}`` parameter, never
formatted into SQL; column lists come from the response models, so a page
holds exactly what OpenAPI documents. Pages are capped at `MAX_LIMIT` rows.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.schemas import Exposure, FillRow, LegBar, Page, SignalRow, SpreadState
from pairflow.storage import Store

__all__ = ["MAX_LIMIT", "NEWEST_FIRST", "Filter", "exposures", "fills_page", "leg_bars", "page", "spread_series", "spread_states"]

MAX_LIMIT = 1000
NEWEST_FIRST = "ts DESC, id"
"""The order of a page unless an endpoint names another: newest first, ties by id so pages do not overlap."""
SPARKLINE_POINTS = 60

# (column, ClickHouse type, operator) of a filter a client may set; values are bound, never formatted.
Filter = tuple[str, str, str]


def columns_of(model: type[BaseModel]) -> str:
    """Return the SELECT list for a row model: its fields that are table columns."""
    return ", ".join(f"`{name}`" for name in model.model_fields if name != "slippage_bps")


def where_of(filters: dict[Filter, Any]) -> tuple[str, dict[str, Any]]:
    """Build a WHERE clause of bound parameters from the filters that were given (None = not given)."""
    clauses, params = [], {}
    for index, ((column, kind, operator), value) in enumerate(filters.items()):
        if value is None:
            continue
        clauses.append(f"`{column}` {operator} {{p{index}:{kind}}}")
        params[f"p{index}"] = value
    return " AND ".join(clauses), params


def page(
    store: Store,
    table: str,
    model: type[BaseModel],
    filters: dict[Filter, Any],
    *,
    limit: int,
    offset: int,
    order_by: str = NEWEST_FIRST,
) -> Page[Any]:
    """Return one page of ``table`` as ``model`` rows (duplicates collapsed) and the total matching."""
    where, params = where_of(filters)
    rows = store.select(table, columns_of(model), where, params, f"{order_by} LIMIT {int(limit)} OFFSET {int(offset)}")
    return Page[model](items=[model(**row) for row in rows], limit=limit, offset=offset, total=store.count(table, where, params))  # type: ignore[valid-type]


def fills_page(store: Store, filters: dict[Filter, Any], *, limit: int, offset: int) -> Page[FillRow]:
    """Fills with their slippage: price against the leg's mid at the last quote at or before the fill."""
    where, params = where_of(filters)
    inner = f"SELECT {columns_of(FillRow)} FROM fills FINAL{' WHERE ' + where if where else ''}"
    sql = (
        f"SELECT f.*, if(isNull(q.bid_px) OR isNull(q.ask_px), NULL,"
        " (f.px / ((q.bid_px + q.ask_px) / 2) - 1) * 10000 * if(f.side = 'B', 1, -1)) AS slippage_bps"
        f" FROM ({inner} ORDER BY ts DESC, id LIMIT {int(limit)} OFFSET {int(offset)}) AS f"
        " ASOF LEFT JOIN (SELECT coin, ts, bid_px, ask_px FROM bbo FINAL) AS q ON f.coin = q.coin AND f.ts >= q.ts"
        " ORDER BY f.ts DESC, f.id"
    )
    rows = store.query_dicts(sql, params)
    items = [FillRow(**{key.removeprefix("f."): value for key, value in row.items()}) for row in rows]
    return Page[FillRow](items=items, limit=limit, offset=offset, total=store.count("fills", where, params))


def spread_states(store: Store, pair: str | None = None) -> list[SpreadState]:
    """Return each spread's latest signal, its z-score history for a sparkline and the scan's half-life."""
    where = "WHERE pair = {pair:String}" if pair is not None else ""
    params = {"pair": pair} if pair is not None else {}
    latest = store.query_dicts(
        "SELECT s.*, c.signals FROM (SELECT pair, ts, legs, hedge_ratio, spread, zscore, target, reason"
        f" FROM signals FINAL {where} ORDER BY ts DESC LIMIT 1 BY pair) AS s"
        f" INNER JOIN (SELECT pair, count() AS signals FROM signals FINAL {where} GROUP BY pair) AS c USING pair"
        " ORDER BY pair",
        params,
    )
    recent: dict[str, list[float]] = {
        name: list(reversed(values))
        for name, values in store.query(
            f"SELECT pair, groupArray(zscore) FROM (SELECT pair, zscore, ts FROM signals FINAL {where}"
            f" ORDER BY ts DESC LIMIT {SPARKLINE_POINTS} BY pair) GROUP BY pair",
            params,
        )
    }
    half_lives = {
        name: value
        for name, value in store.query(
            "SELECT pair, argMax(half_life, ts) FROM pair_stats FINAL WHERE accepted GROUP BY pair"
        )
    }
    return [
        SpreadState(**row, half_life=half_lives.get(row["pair"]), recent_z=recent.get(row["pair"], []))
        for row in latest
    ]


def spread_series(store: Store, pair: str, limit: int) -> list[SignalRow]:
    """Return a spread's latest ``limit`` signals in time order."""
    rows = store.select(
        "signals", columns_of(SignalRow), "pair = {pair:String}", {"pair": pair}, "ts DESC, id", limit
    )
    return [SignalRow(**row) for row in reversed(rows)]


def leg_bars(store: Store, coins: list[str], start: int, end: int, interval: str, limit: int) -> list[LegBar]:
    """Return close prices of ``coins`` between ``start`` and ``end`` (ms), from the bars of ``interval``."""
    table = {"1s": "bars_1s", "1m": "bars_1m"}.get(interval, "bars_1m")
    rows = store.select(
        table,
        "coin, ts, close",
        "coin IN {coins:Array(String)} AND ts BETWEEN {start:Int64} AND {end:Int64}",
        {"coins": coins, "start": start, "end": end},
        "coin, ts",
        limit,
    )
    return [LegBar(**row) for row in rows]


def exposures(store: Store, interval: str) -> list[Exposure]:
    """Return the net position per coin summed from the fills, with the last close of ``interval`` bars."""
    table = {"1s": "bars_1s", "1m": "bars_1m"}.get(interval, "bars_1m")
    rows = store.query_dicts(
        "SELECT f.coin AS coin, f.szi AS szi, b.close AS mark_px FROM"
        " (SELECT coin, round(sum(if(side = 'B', sz, -sz)), 10) AS szi FROM fills FINAL GROUP BY coin) AS f"
        f" LEFT JOIN (SELECT coin, argMax(close, ts) AS close FROM {table} FINAL GROUP BY coin) AS b"
        " ON f.coin = b.coin ORDER BY coin SETTINGS join_use_nulls = 1"
    )
    return [
        Exposure(**row, notional=None if row["mark_px"] is None else row["szi"] * row["mark_px"]) for row in rows
    ]
