"""Launch backtests from the API: its request in, `pairflow backtest`'s own run out, stored in the served store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.commands.backtest import BacktestSpec, run_and_store
from pairflow.config import Settings
from pairflow.storage import Store

__all__ = ["backtest_launcher"]


def backtest_launcher(settings: Settings, store: Store) -> Callable[[dict[str, Any], Callable[[int, int], None]], str]:
    """Return the API's ``launch_backtest`` hook: run a request over ``store``'s recorded bars, return the run id.

    The request carries the run's ``name``, ``spreads`` (``A/B`` names), optional ``start`` /
    ``end`` (ISO), ``interval``, ``mode`` and ``fill``; anything else comes
    from ``settings`` as it is at launch (including parameters changed since
    start). A wrong option raises `pairflow.errors.ConfigError` with the
    command line's one-line message.
    """

    def launch(request: dict[str, Any], progress: Callable[[int, int], None]) -> str:
        run_settings = settings.model_copy(deep=True)
        if request.get("interval"):
            run_settings.strategy.bar_interval = request["interval"]
        spec = BacktestSpec.checked(run_settings, spreads=",".join(request.get("spreads") or []) or None,
                                    sources=["store"], start=request.get("start"), end=request.get("end"),
                                    mode=request.get("mode", "spread"), fill=request.get("fill", "close"))
        return run_and_store(run_settings, store, spec, name=request.get("name", ""), progress=progress).run_id

    return launch
