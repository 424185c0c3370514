"""Read endpoints: health, config, scan, spreads, signals, trading tables, backtests, alerts, logs, audit.

Every list is a `Page` bounded by ``limit`` (1..1000) and ``offset``; filters
are optional and bound as query parameters.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from api import queries
from api.context import ApiContext
from api.schemas import (
    AlertRow, AuditRow, BacktestRow, ControlStateBody, Exposure, FillRow, Health, LogRow, OrderRow, Page, PnlRow,
    PositionRow, RiskRow, ScanRow, SignalRow, SpreadDetail, SpreadState,
)
from pairflow.errors import StorageError
from pairflow.redaction import REDACTED, is_secret_name, redact_url_passwords

__all__ = ["read_router"]

Limit = Annotated[int, Query(ge=1, le=queries.MAX_LIMIT, description="Rows per page (at most 1000).")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Since = Annotated[int | None, Query(ge=0, description="Only rows at or after this time, epoch ms.")]
Until = Annotated[int | None, Query(ge=0, description="Only rows at or before this time, epoch ms.")]
Coin = Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9@:_\-]+$")]
HEALTH_TABLES = ("signals", "orders", "fills", "positions", "pnl", "alerts")


def read_router(ctx: ApiContext) -> APIRouter:
    """Build the read endpoints over ``ctx``."""
    router = APIRouter(prefix="/api", dependencies=[Depends(ctx.guard.require_for_reads)])
    store = ctx.store

    def time_filters(since: int | None, until: int | None) -> dict[queries.Filter, Any]:
        return {("ts", "Int64", ">="): since, ("ts", "Int64", "<="): until}

    @router.get("/health", response_model=Health, tags=["status"])
    def health() -> Health:
        """Liveness plus row counts; ``degraded`` when the store does not answer."""
        state = ControlStateBody(**vars(ctx.control.state()))
        try:
            tables = {table: store.count(table) for table in HEALTH_TABLES}
        except StorageError:
            return Health(status="degraded", store=store.location, store_ok=False, controls=state, tables={})
        return Health(status="ok", store=store.location, store_ok=True, controls=state, tables=tables)

    @router.get("/config", tags=["status"])
    def config() -> dict[str, Any]:
        """The effective configuration with every secret replaced by "<redacted>"."""
        return _redacted(ctx.settings.model_dump(mode="json"))

    @router.get("/scan", response_model=Page[ScanRow], tags=["scan"])
    def scan(
        limit: Limit = 200,
        offset: Offset = 0,
        scan_id: Annotated[str | None, Query(max_length=64)] = None,
        accepted: bool | None = None,
    ) -> Page[Any]:
        """Pairs and baskets of one scan (the newest unless ``scan_id``), best rank first."""
        if scan_id is None:
            newest = store.query("SELECT argMax(scan_id, ts) FROM pair_stats FINAL WHERE scan_id != ''")
            scan_id = newest[0][0] if newest and newest[0][0] else ""
        filters = {("scan_id", "String", "="): scan_id, ("accepted", "Bool", "="): accepted}
        return queries.page(store, "pair_stats", ScanRow, filters, limit=limit, offset=offset,
                            order_by="accepted DESC, eg_pvalue, pair")

    @router.get("/spreads", response_model=list[SpreadState], tags=["spreads"])
    def spreads() -> list[SpreadState]:
        """Every spread's latest state with recent z-scores, β and the scan's half-life."""
        return queries.spread_states(store)

    @router.get("/spreads/{pair:path}", response_model=SpreadDetail, tags=["spreads"])
    def spread(
        pair: Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9@:_\-]+(/[A-Za-z0-9@:_\-]+)+$")],
        points: Annotated[int, Query(ge=10, le=5000)] = 600,
    ) -> SpreadDetail:
        """One spread: its signal series, its legs' prices and their fills over the same range."""
        states = queries.spread_states(store, pair)
        if not states:
            raise HTTPException(404, f"unknown spread {pair!r}")
        series = queries.spread_series(store, pair, points)
        start, end = series[0].ts, series[-1].ts
        legs = list(states[0].legs)
        bars = queries.leg_bars(store, legs, start, end, ctx.settings.strategy.bar_interval, 5000 * len(legs))
        filters = {("coin", "Array(String)", "IN"): legs, ("ts", "Int64", ">="): start, ("ts", "Int64", "<="): end}
        fills = queries.fills_page(store, filters, limit=queries.MAX_LIMIT, offset=0).items
        return SpreadDetail(state=states[0], series=series, legs=bars, fills=fills)

    @router.get("/signals", response_model=Page[SignalRow], tags=["spreads"])
    def signals(
        limit: Limit = 100, offset: Offset = 0, since: Since = None, until: Until = None,
        pair: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Page[Any]:
        """Strategy signals, newest first."""
        return queries.page(store, "signals", SignalRow, {**time_filters(since, until), ("pair", "String", "="): pair},
                            limit=limit, offset=offset)

    @router.get("/orders", response_model=Page[OrderRow], tags=["trading"])
    def orders(
        limit: Limit = 100, offset: Offset = 0, since: Since = None, until: Until = None, coin: Coin = None,
        status: Annotated[str | None, Query(max_length=32)] = None,
    ) -> Page[Any]:
        """Orders with their latest status, newest first."""
        filters = {**time_filters(since, until), ("coin", "String", "="): coin, ("status", "String", "="): status}
        return queries.page(store, "orders", OrderRow, filters, limit=limit, offset=offset)

    @router.get("/fills", response_model=Page[FillRow], tags=["trading"])
    def fills(limit: Limit = 100, offset: Offset = 0, since: Since = None, until: Until = None, coin: Coin = None) -> Page[FillRow]:
        """Fills with slippage per leg against the quoted mid, newest first."""
        filters = {**time_filters(since, until), ("coin", "String", "="): coin}
        return queries.fills_page(store, filters, limit=limit, offset=offset)

    @router.get("/positions", response_model=Page[PositionRow], tags=["trading"])
    def positions(limit: Limit = 100, offset: Offset = 0, coin: Coin = None) -> Page[Any]:
        """Position snapshots, newest first."""
        return queries.page(store, "positions", PositionRow, {("coin", "String", "="): coin}, limit=limit,
                            offset=offset, order_by="ts DESC, coin")

    @router.get("/exposure", response_model=list[Exposure], tags=["trading"])
    def exposure() -> list[Exposure]:
        """Net position and notional per coin from our fills."""
        return queries.exposures(store, ctx.settings.strategy.bar_interval)

    @router.get("/pnl", response_model=Page[PnlRow], tags=["trading"])
    def pnl(
        limit: Limit = 1000, offset: Offset = 0, since: Since = None, until: Until = None,
        scope: Annotated[str, Query(max_length=64, description="portfolio, coin:<COIN> or spread:<A/B>")] = "portfolio",
    ) -> Page[Any]:
        """The PnL and equity series of one scope, in time order."""
        filters = {**time_filters(since, until), ("scope", "String", "="): scope}
        return queries.page(store, "pnl", PnlRow, filters, limit=limit, offset=offset, order_by="ts, id")

    def newest_rows(path: str, table: str, row: type, column: str, query: Any, doc: str, *, tags: list[str],
                    order_by: str = queries.NEWEST_FIRST) -> None:
        """Serve ``GET path``: a page of ``table`` from ``since`` on, narrowed to one value of ``column`` if given.

        Risk metrics, alerts and logs are read the same way and differ only in the table and the column an
        operator narrows by, so their endpoints are made here; the column's name is the query parameter's.
        """

        def endpoint(limit: int, offset: int, since: int | None, **only: str | None) -> Page[Any]:
            filters = {**time_filters(since, None), (column, "String", "="): only[column]}
            return queries.page(store, table, row, filters, limit=limit, offset=offset, order_by=order_by)

        # FastAPI reads query parameters from the signature, and this one's name (the column) is known only here.
        parameters = [("limit", Limit, 100), ("offset", Offset, 0), ("since", Since, None),
                      (column, Annotated[str | None, query], None)]
        endpoint.__signature__ = inspect.Signature(
            [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
             for name, annotation, default in parameters],
            return_annotation=Page[Any],
        )
        router.get(path, response_model=Page[row], tags=tags, name=path.strip("/"), description=doc)(endpoint)

    newest_rows("/risk", "risk_metrics", RiskRow, "metric", Query(max_length=64),
                "Risk metrics (VaR, ES, exposure, ...), newest first.", tags=["trading"])
    newest_rows("/alerts", "alerts", AlertRow, "severity", Query(max_length=16), "Alerts, newest first.",
                tags=["operations"])
    newest_rows("/logs", "logs", LogRow, "level", Query(pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$"),
                "Log records mirrored into the store, newest first.", tags=["operations"], order_by="ts DESC, logger")

    @router.get("/backtests", response_model=Page[BacktestRow], tags=["backtests"])
    def backtests(limit: Limit = 100, offset: Offset = 0) -> Page[Any]:
        """Backtest runs, newest first."""
        return queries.page(store, "backtest_runs", BacktestRow, {}, limit=limit, offset=offset)

    @router.get("/backtests/{run_id}", response_model=BacktestRow, tags=["backtests"])
    def backtest(run_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")]) -> BacktestRow:
        """One backtest run."""
        found = queries.page(store, "backtest_runs", BacktestRow, {("id", "String", "="): run_id}, limit=1, offset=0)
        if not found.items:
            raise HTTPException(404, f"unknown backtest run {run_id!r}")
        return found.items[0]

    @router.get("/audit", response_model=Page[AuditRow], tags=["controls"])
    def audit(limit: Limit = 100, offset: Offset = 0) -> Page[Any]:
        """Every control and parameter change made through the API, newest first."""
        return queries.page(store, "control_audit", AuditRow, {}, limit=limit, offset=offset)

    return router


def _redacted(values: Any, key: str = "") -> Any:
    if isinstance(values, dict):
        return {name: _redacted(value, name) for name, value in values.items()}
    if isinstance(values, list):
        return [_redacted(value) for value in values]
    if is_secret_name(key) and values is not None:
        return REDACTED
    return redact_url_passwords(values) if isinstance(values, str) else values
