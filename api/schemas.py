"""Typed response and request bodies: what OpenAPI documents and the UI's client is generated from.

Row models mirror their ClickHouse tables (epoch-millisecond ``ts``); a
`Page` wraps every list so clients always see the bounds they were given.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AlertRow", "AuditRow", "BacktestRow", "ControlStateBody", "Exposure", "FillRow", "Health", "LegBar", "LogRow",
    "OrderRow", "Page", "ParamChange", "PnlRow", "PositionRow", "RiskRow", "ScanRow", "SignalRow",
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


class SignalRow(BaseModel):
    ts: int
    id: str
    pair: str
    hedge_ratio: float
    spread: float
    zscore: float
    target: float
    reason: str
    legs: list[str]
    hedge_ratios: list[float]
    leg_targets: list[float]


class SpreadState(BaseModel):
    """The latest decision of one spread and the recent z-scores for a sparkline (oldest first)."""

    pair: str
    ts: int
    legs: list[str]
    hedge_ratio: float
    spread: float
    zscore: float
    target: float
    reason: str
    half_life: float | None
    signals: int
    recent_z: list[float]


class LegBar(BaseModel):
    coin: str
    ts: int
    close: float


class SpreadDetail(BaseModel):
    state: SpreadState
    series: list[SignalRow] = Field(description="The spread's signals in time order (spread, z-score, β).")
    legs: list[LegBar] = Field(description="Close prices of each leg over the same time range.")
    fills: list[FillRow] = Field(description="Fills of the spread's legs over the same time range.")


class OrderRow(BaseModel):
    ts: int
    id: str
    coin: str
    cloid: str
    oid: int | None
    is_buy: bool
    sz: float
    limit_px: float
    status: str
    filled_sz: float
    avg_px: float | None
    reason: str


class FillRow(BaseModel):
    ts: int
    id: str
    coin: str
    oid: int
    cloid: str
    px: float
    sz: float
    side: str
    fee: float
    closed_pnl: float
    crossed: bool
    slippage_bps: float | None = Field(
        default=None, description="Fill price against the leg's mid at the last quote before it, signed so worse is positive."
    )


class PositionRow(BaseModel):
    ts: int
    coin: str
    szi: float
    entry_px: float
    mark_px: float
    unrealized_pnl: float
    margin_used: float
    leverage: float


class Exposure(BaseModel):
    """Our net position in one coin from the fills stored, valued at the coin's last bar close."""

    coin: str
    szi: float
    mark_px: float | None
    notional: float | None


class PnlRow(BaseModel):
    ts: int
    scope: str
    realized_pnl: float
    unrealized_pnl: float
    fees: float
    funding: float
    equity: float


class RiskRow(BaseModel):
    ts: int
    metric: str
    value: float
    confidence: float | None
    horizon: str
    scope: str


class AlertRow(BaseModel):
    ts: int
    id: str
    severity: str
    source: str
    message: str
    coin: str


class LogRow(BaseModel):
    ts: int
    level: str
    logger: str
    message: str
    fields: str


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


class ScanRow(BaseModel):
    ts: int
    scan_id: str
    pair: str
    kind: str
    coins: list[str]
    weights: list[float]
    correlation: float
    hedge_ratio: float
    eg_pvalue: float
    half_life: float | None
    hurst: float | None
    qvalue: float | None
    cluster: int | None
    accepted: bool
    reason: str


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
