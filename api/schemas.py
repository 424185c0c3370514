"""Typed response and request bodies: what OpenAPI documents and the UI's client is generated from.

Row models mirror their ClickHouse tables (epoch-millisecond ``ts``); a
`Page` wraps every list so clients always see the bounds they were given.
A row of an event's table is derived from the event type in
`pairflow.events` (the table's columns are the event's fields), so a field
added to an event reaches the API without being declared twice.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar, get_args, get_origin

import msgspec
from pydantic import BaseModel, ConfigDict, Field, create_model

from pairflow import events

__all__ = [
    "AlertRow", "AuditRow", "BacktestRow", "ControlStateBody", "Exposure", "FillRow", "Health", "LegBar", "LogRow",
    "OptimizeRunRow", "OrderRow", "Page", "ParamChange", "PnlRow", "PositionRow", "RiskRow", "ScanRow", "SignalRow",
    "SpreadDetail", "SpreadState",
]

RowT = TypeVar("RowT")


class Page(BaseModel, Generic[RowT]):
    """One page of rows, newest first unless the endpoint says otherwise."""

    items: list[RowT]
    limit: int
    offset: int
    total: int


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    store: str
    store_ok: bool
    controls: ControlStateBody
    tables: dict[str, int] = Field(description="Rows per trading table (duplicates collapsed).")


class ControlStateBody(BaseModel):
    entries_paused: bool
    halted: bool
    flatten_requests: int
    pause_reason: str = Field(default="", description="Why entries are paused, kept across restarts; empty when not.")


def _api_type(annotation: Any) -> Any:
    # A Literal is answered as its plain type, as the table column holds it; a tuple as a JSON list.
    if get_origin(annotation) is Literal:
        return type(get_args(annotation)[0])
    if get_origin(annotation) is tuple:
        return list[get_args(annotation)[0]]  # type: ignore[misc]
    return annotation


def event_row(
    event: type[msgspec.Struct], name: str, *, drop: tuple[str, ...] = (), only: tuple[str, ...] = (),
    doc: str | None = None, **extra: Any,
) -> type[BaseModel]:
    """Build the response model of a row of ``event``'s table: its fields (``only`` those, or all but
    ``recv_ts`` and ``drop``) with their types, every one required, plus ``extra`` pydantic fields."""
    fields = {
        field.name: (_api_type(field.type), ...)
        for field in msgspec.structs.fields(event)
        if (field.name in only if only else field.name not in ("recv_ts", *drop))
    }
    return create_model(name, __doc__=doc or event.__doc__, __module__=__name__, **fields, **extra)


SignalRow = event_row(events.Signal, "SignalRow", drop=("features", "model_versions"))
SpreadState = event_row(
    events.Signal, "SpreadState",
    only=("pair", "ts", "legs", "hedge_ratio", "spread", "zscore", "target", "reason"),
    doc="The latest decision of one spread and the recent z-scores for a sparkline (oldest first).",
    half_life=(float | None, ...), signals=(int, ...), recent_z=(list[float], ...),
)
OrderRow = event_row(events.Order, "OrderRow")
FillRow = event_row(
    events.Fill, "FillRow", drop=("start_position",),
    slippage_bps=(float | None, Field(
        default=None,
        description="Fill price against the leg's mid at the last quote before it, signed so worse is positive.",
    )),
)
PositionRow = event_row(events.Position, "PositionRow", drop=("id",))
PnlRow = event_row(events.Pnl, "PnlRow", drop=("id",))
RiskRow = event_row(events.RiskMetric, "RiskRow", drop=("id",))
AlertRow = event_row(events.Alert, "AlertRow")
LogRow = event_row(events.LogRecord, "LogRow", drop=("id",))
ScanRow = event_row(
    events.PairStats, "ScanRow", doc="One candidate spread of a scan (a pair or a basket): its tests and the verdict.",
    only=("ts", "scan_id", "pair", "kind", "coins", "weights", "correlation", "hedge_ratio", "eg_pvalue",
          "half_life", "hurst", "qvalue", "cluster", "accepted", "reason"),
)


class LegBar(BaseModel):
    coin: str
    ts: int
    close: float


class SpreadDetail(BaseModel):
    state: SpreadState
    series: list[SignalRow] = Field(description="The spread's signals in time order (spread, z-score, β).")
    legs: list[LegBar] = Field(description="Close prices of each leg over the same time range.")
    fills: list[FillRow] = Field(description="Fills of the spread's legs over the same time range.")


class Exposure(BaseModel):
    """Our net position in one coin from the fills stored, valued at the coin's last bar close."""

    coin: str
    szi: float
    mark_px: float | None
    notional: float | None


class BacktestRow(BaseModel):
    ts: int
    id: str
    name: str
    strategy: str
    status: str
    start_ts: int
    end_ts: int
    params: str
    pairs: list[str]
    trades: int
    total_pnl: float
    fees: float
    funding: float
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None


class OptimizeRunRow(BaseModel):
    """A `pairflow optimize` run's out-of-sample verdict: only its test windows count, judged over every trial."""

    ts: int
    id: str
    spreads: list[str]
    folds: int
    trials: int
    oos_sharpe: float | None = Field(description="Annualised Sharpe of the test windows chained; null when undefined.")
    oos_pnl: float
    dsr: float | None = Field(description="Deflated Sharpe ratio: probability the true Sharpe beats the best of the "
                                          "trials by luck; null with too little data.")
    pbo: float | None = Field(description="Probability of backtest overfitting (CSCV over every trial); null with "
                                          "too few trials.")
    params: str


class AuditRow(BaseModel):
    ts: int
    id: str
    action: str
    actor: str
    detail: str
    outcome: str


class ParamChange(BaseModel):
    """Strategy parameters an operator may change while running; each is validated like the config file."""

    model_config = ConfigDict(extra="forbid")

    entry_z: float | None = Field(default=None, gt=0, le=20)
    exit_z: float | None = Field(default=None, ge=0, le=20)
    stop_z: float | None = Field(default=None, gt=0, le=50)
    notional_usd: float | None = Field(default=None, gt=0, le=10_000_000)


SpreadDetail.model_rebuild()
Health.model_rebuild()
