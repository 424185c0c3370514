"""What the API serves from: the store, the settings, the controls, and hooks into the running process.

`api/` may import only `pairflow`, so actions that need other rooms (run a
scan, launch a backtest) arrive as callables from the composition root in
`app/`; an action with no hook answers 501.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.auth import TokenGuard
from pairflow.clock import WALL_CLOCK, Clock
from pairflow.config import Settings
from pairflow.control import Control
from pairflow.storage import Store

__all__ = ["ApiContext"]


@dataclass
class ApiContext:
    """Everything a request handler needs; built once per server.

    ``run_scan`` returns a one-line summary of the scan it ran;
    ``launch_backtest`` takes a backtest request (`api.backtests.BacktestLaunch`
    fields) and a ``progress(done, total)`` callback, runs it and returns the
    stored run's id; ``reports_dir`` holds the HTML reports of launched runs;
    ``publish_params`` sends an accepted parameter change to strategies in
    other processes (raising `pairflow.errors.PairflowError` when it could not).
    """

    store: Store
    settings: Settings
    guard: TokenGuard
    control: Control = field(default_factory=Control)
    clock: Clock = WALL_CLOCK
    web_dir: Path | None = None
    run_scan: Callable[[], str] | None = None
    launch_backtest: Callable[[dict[str, Any], Callable[[int, int], None]], str] | None = None
    reports_dir: Path | None = None
    publish_params: Callable[[dict[str, float]], None] | None = None
    poll_s: float = 1.0
    ws_queue_size: int = 256
