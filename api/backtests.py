"""Backtests launched from the API: one run at a time on a worker thread, progress pushed on the ``backtests`` stream.

`api/` may not import the backtest machinery, so the composition root hands
it in as ``ApiContext.launch_backtest`` (the same function `pairflow
backtest` runs). The run stores itself (``backtest_runs``, ``_trades``,
``_equity``); the job only tracks it. A failed run becomes a job with its
one-line error, never an exception in the server. Jobs live in memory: the
stored runs are the record.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from api import queries
from api.context import ApiContext
from api.reads import Limit, Offset
from api.schemas import OptimizeRunRow, Page
from pairflow.clock import Clock
from pairflow.errors import PairflowError

__all__ = ["BacktestJob", "BacktestJobs", "BacktestLaunch", "backtest_router"]

log = structlog.get_logger("api.backtests")

Launch = Callable[[dict[str, Any], Callable[[int, int], None]], str]
RunId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")]
_SPREAD = r"^[A-Za-z0-9@:_\-]+(/[A-Za-z0-9@:_\-]+)+$"
_ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?$"


class BacktestLaunch(BaseModel):
    """A backtest over the recorded bars of the served store; unset fields come from the running configuration."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9 _\-.]+$")
    spreads: list[Annotated[str, Field(max_length=100, pattern=_SPREAD)]] = Field(
        default_factory=list, max_length=50, description="Spreads such as ETH/SOL; default: strategy.pairs.")
    start: str | None = Field(default=None, pattern=_ISO, description="First bar time (ISO, UTC), inclusive.")
    end: str | None = Field(default=None, pattern=_ISO, description="End time (ISO, UTC), exclusive.")
    interval: Literal["1m", "5m", "15m", "1h", "4h", "1d"] | None = Field(
        default=None, description="Bars to replay; default: strategy.bar_interval.")
    mode: Literal["spread", "rolling-ols", "kalman-units", "recorded"] = "spread"
    fill: Literal["close", "next_open", "book"] = "close"


class BacktestJob(BaseModel):
    """A launched run: ``done`` of ``total`` replay steps; ``run_id`` once stored, ``error`` when it failed."""

    id: str
    name: str
    status: Literal["running", "done", "failed"]
    done: int = 0
    total: int = 0
    run_id: str = ""
    error: str = ""
    started_ts: int
    ended_ts: int | None = None


class EquityPoint(BaseModel):
    ts: int
    equity: float
    drawdown: float = Field(description="Fall from the highest equity so far, as a fraction of it (0 at a new high).")


class BacktestTradeRow(BaseModel):
    ts: int
    id: str
    run_id: str
    pair: str
    coin: str
    side: str
    kind: str
    px: float
    sz: float
    fee: float
    funding: float
    pnl: float


class BacktestJobs:
    """Runs launches one at a time; each change of a job is published as a ``backtests`` stream row."""

    def __init__(self, launch: Launch, publish: Callable[[str, list[dict[str, Any]]], None], clock: Clock,
                 keep: int = 50) -> None:
        self._launch = launch
        self._publish = publish
        self._clock = clock
        self._keep = keep
        self._jobs: dict[str, BacktestJob] = {}
        self._lock = threading.Lock()

    def jobs(self) -> list[BacktestJob]:
        """Return the jobs of this server, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda job: job.started_ts, reverse=True)

    def start(self, launch: BacktestLaunch) -> BacktestJob:
        """Start ``launch`` on a worker thread; 409 while another run is going."""
        with self._lock:
            if any(job.status == "running" for job in self._jobs.values()):
                raise HTTPException(409, "a backtest is already running; wait for it to finish")
            job = BacktestJob(id=uuid.uuid4().hex[:12], name=launch.name, status="running",
                              started_ts=self._clock.now_ms())
            self._jobs[job.id] = job
            for old in sorted(self._jobs.values(), key=lambda j: j.started_ts)[: max(0, len(self._jobs) - self._keep)]:
                del self._jobs[old.id]
        threading.Thread(target=self._run, args=(job.id, launch), name=f"backtest-{job.id}", daemon=True).start()
        self._changed(job)
        return job

    def _run(self, job_id: str, launch: BacktestLaunch) -> None:
        def progress(done: int, total: int) -> None:
            self._update(job_id, done=done, total=total)

        try:
            run_id = self._launch(launch.model_dump(), progress)
        except PairflowError as error:
            self._update(job_id, status="failed", error=str(error), ended_ts=self._clock.now_ms())
        except Exception as error:  # noqa: BLE001 - a broken run must not take the server down; the job says why
            log.exception("backtest failed", job=job_id)
            self._update(job_id, status="failed", error=f"{type(error).__name__}: {error}", ended_ts=self._clock.now_ms())
        else:
            self._update(job_id, status="done", run_id=run_id, ended_ts=self._clock.now_ms())

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            job = self._jobs[job_id] = job.model_copy(update=changes)
        self._changed(job)

    def _changed(self, job: BacktestJob) -> None:
        self._publish("backtests", [job.model_dump()])


def backtest_router(ctx: ApiContext, jobs: BacktestJobs | None) -> APIRouter:
    """Build the backtest reads beyond the run list: launched jobs, optimisations, a run's equity, trades and report."""
    router = APIRouter(prefix="/api", tags=["backtests"], dependencies=[Depends(ctx.guard.require_for_reads)])
    store = ctx.store

    @router.get("/backtest-jobs", response_model=list[BacktestJob])
    def backtest_jobs() -> list[BacktestJob]:
        """Backtests launched through this server, newest first (their progress also streams as ``backtests``)."""
        return jobs.jobs() if jobs is not None else []

    @router.get("/optimize-runs", response_model=Page[OptimizeRunRow])
    def optimize_runs(limit: Limit = 100, offset: Offset = 0) -> Page[Any]:
        """`pairflow optimize` runs, newest first: out-of-sample Sharpe and PnL, deflated Sharpe ratio and PBO."""
        return queries.page(store, "optimize_runs", OptimizeRunRow, {}, limit=limit, offset=offset)

    @router.get("/backtests/{run_id}/equity", response_model=list[EquityPoint])
    def equity(run_id: RunId) -> list[EquityPoint]:
        """A stored run's equity curve (at most 2,000 points) with its drawdown from the running peak."""
        rows = store.query("SELECT ts, equity FROM backtest_equity FINAL WHERE run_id = {run:String} ORDER BY ts",
                           {"run": run_id})
        if not rows and not store.count("backtest_runs", "id = {run:String}", {"run": run_id}):
            raise HTTPException(404, f"unknown backtest run {run_id!r}")
        points, peak = [], float("-inf")
        for ts, value in rows:
            peak = max(peak, value)
            points.append(EquityPoint(ts=ts, equity=value, drawdown=value / peak - 1.0 if peak > 0 else 0.0))
        return points

    @router.get("/backtests/{run_id}/trades", response_model=Page[BacktestTradeRow])
    def trades(
        run_id: RunId,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Page[Any]:
        """A stored run's fills and funding payments, in time order."""
        if not store.count("backtest_runs", "id = {run:String}", {"run": run_id}):
            raise HTTPException(404, f"unknown backtest run {run_id!r}")
        return queries.page(store, "backtest_trades", BacktestTradeRow, {("run_id", "String", "="): run_id},
                            limit=limit, offset=offset, order_by="ts, id")

    @router.get("/backtests/{run_id}/report", response_class=FileResponse,
                responses={200: {"content": {"text/html": {}}, "description": "The run's HTML report."}})
    def report(run_id: RunId) -> FileResponse:
        """The HTML report of a run launched here (equity, drawdown, z-scores with trades, attribution)."""
        path = ctx.reports_dir / f"{run_id}.html" if ctx.reports_dir is not None else None
        if path is None or not path.is_file():
            raise HTTPException(404, f"no report stored for run {run_id!r}: runs launched from this server have one; "
                                     "for others use `pairflow backtest --report FILE`")
        return FileResponse(path, media_type="text/html")

    return router
