"""State-changing endpoints: pause/resume entries, flatten, halt, run a scan, launch a backtest, change parameters.

Every call needs the token, and every call (refused ones included) is
written to ``control_audit`` with the token's fingerprint, so the audit says
which credential acted without storing it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel, Field, StrictBool

from api.backtests import BacktestJob, BacktestJobs, BacktestLaunch
from api.context import ApiContext
from api.schemas import ControlStateBody, ParamChange
from pairflow.config import with_changes
from pairflow.control import ControlState
from pairflow.errors import ConfigError, PairflowError

__all__ = ["control_router"]


class ActionResult(BaseModel):
    action: str
    detail: str
    controls: ControlStateBody


class Confirm(BaseModel):
    """Flatten and halt close every position: the client must say so with JSON true ("yes" or 1 is refused)."""

    # Strict: lax validation took "yes", "on", 1 or "1" as consent to close every position.
    confirm: StrictBool = Field(description="Must be true.")


def control_router(ctx: ApiContext, jobs: BacktestJobs | None = None) -> APIRouter:
    """Build the control endpoints over ``ctx``; ``jobs`` runs launched backtests (None: this server cannot)."""
    router = APIRouter(prefix="/api/controls", tags=["controls"], dependencies=[Depends(ctx.guard.require)])

    def audit(request: Request, action: str, detail: str, outcome: str = "ok") -> None:
        header = request.headers.get("authorization", "")
        actor = hashlib.sha256(header.encode()).hexdigest()[:12]
        ctx.store.insert_columns(
            "control_audit",
            [[ctx.clock.now_ms()], [uuid.uuid4().hex], [action], [actor], [detail], [outcome]],
            ["ts", "id", "action", "actor", "detail", "outcome"],
        )

    def result(request: Request, action: str, state: ControlState, detail: str = "") -> ActionResult:
        audit(request, action, detail)
        return ActionResult(action=action, detail=detail, controls=ControlStateBody(**vars(state)))

    def confirmed(body: Confirm) -> None:
        if not body.confirm:
            raise HTTPException(400, "set confirm to true: this closes every position")

    @router.post("/pause", response_model=ActionResult)
    def pause(request: Request) -> ActionResult:
        """Stop opening new positions; exits continue. A trader's pause (also a flatten's or halt's) outlives its restarts until resumed."""
        return result(request, "pause", ctx.control.pause_entries())

    @router.post("/resume", response_model=ActionResult)
    def resume(request: Request) -> ActionResult:
        """Allow entries again (also lifts a halt)."""
        return result(request, "resume", ctx.control.resume_entries())

    @router.post("/flatten", response_model=ActionResult)
    def flatten(request: Request, body: Confirm) -> ActionResult:
        """Close every position and pause entries (also during a halt); needs ``{"confirm": true}``."""
        confirmed(body)
        return result(request, "flatten", ctx.control.request_flatten())

    @router.post("/halt", response_model=ActionResult)
    def halt(request: Request, body: Confirm) -> ActionResult:
        """Kill switch: flatten, then send no order at all (exits and stops included) until resumed; needs ``{"confirm": true}``."""
        confirmed(body)
        return result(request, "halt", ctx.control.halt())

    @router.post("/scan", response_model=ActionResult)
    def run_scan(request: Request) -> ActionResult:
        """Run a scan of the stored candles now (501 when this process cannot)."""
        if ctx.run_scan is None:
            raise HTTPException(501, "this server cannot run scans; use `pairflow scan`")
        return result(request, "scan", ctx.control.state(), ctx.run_scan())

    @router.post("/backtest", response_model=BacktestJob)
    def backtest(request: Request, body: BacktestLaunch) -> BacktestJob:
        """Launch a backtest of the stored bars on a worker thread (one at a time: 409 while one runs).

        Returns the job at once; its progress streams as ``backtests`` rows
        and ``/api/backtest-jobs`` lists it; once done, its ``run_id`` names
        the stored run.
        """
        if jobs is None:
            raise HTTPException(501, "this server cannot launch backtests: it has no store of its own to replay")
        try:
            job = jobs.start(body)
        except HTTPException:
            audit(request, "backtest", body.model_dump_json(), "refused")
            raise
        audit(request, "backtest", body.model_dump_json())
        return job

    @router.post("/params", response_model=dict[str, Any])
    def params(request: Request, body: Annotated[ParamChange, Body()]) -> dict[str, Any]:
        """Change strategy parameters (validated like the config file, bands must stay ordered); returns them.

        The running spreads of this process take them on their next event,
        keeping their models; with ``pairflow api --broker`` they also go out on
        ``pf.params`` to strategies in other processes (503, nothing changed,
        when the broker does not take them). A restart goes back to the config file.
        """
        changes = body.model_dump(exclude_none=True)
        if not changes:
            raise HTTPException(400, "name at least one parameter to change")
        try:
            changed = with_changes(ctx.settings.strategy, "strategy", **changes)
        except ConfigError as error:
            raise HTTPException(422, str(error)) from None
        if not changed.exit_z < changed.entry_z < changed.stop_z:
            audit(request, "params", json.dumps(changes), "refused")
            raise HTTPException(422, "bands must satisfy exit_z < entry_z < stop_z")
        if ctx.publish_params is not None:
            try:
                ctx.publish_params(changes)
            except PairflowError as error:
                audit(request, "params", json.dumps(changes), "refused")
                raise HTTPException(503, f"parameters not changed: {error}") from None
        ctx.settings.strategy = changed
        ctx.control.retune(changes)
        audit(request, "params", json.dumps(changes))
        return {name: getattr(changed, name) for name in ParamChange.model_fields}

    return router
