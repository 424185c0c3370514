"""Launch backtests from the API: its request in, `pairflow backtest`'s own run out, stored in the served store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pairflow.config import Settings
from pairflow.storage import Store

__all__ = ["backtest_launcher"]


def backtest_launcher(settings: Settings, store: Store, reports_dir: Path | None = None,
                      ) -> Callable[[dict[str, Any], Callable[[int, int], None]], str]:
    """Return the API's ``launch_backtest`` hook: run a request over ``store``'s recorded bars, return the run id.

    The request carries the run's ``name``, ``spreads`` (``A/B`` names), optional ``start`` /
    ``end`` (ISO), ``interval``, ``mode`` and ``fill``; anything else comes
    from ``settings`` as it is at launch (including parameters changed since
    start). A wrong option raises `pairflow.errors.ConfigError` with the
    command line's one-line message. With ``reports_dir`` each run's HTML
    report (`pairflow backtest --report`) is written there as ``<run id>.html``.
    """

    def launch(request: dict[str, Any], progress: Callable[[int, int], None]) -> str:
        # The backtest engine (the strategy, river) loads with the first run: `pairflow api` serves a store
        # without it until someone launches one.
        from app.backtest.report import write_report
        from app.commands.backtest import BacktestSpec, run_and_store

        run_settings = settings.model_copy(deep=True)
        if request.get("interval"):
            run_settings.strategy.bar_interval = request["interval"]
        spec = BacktestSpec.checked(run_settings, spreads=",".join(request.get("spreads") or []) or None,
                                    sources=["store"], start=request.get("start"), end=request.get("end"),
                                    mode=request.get("mode", "spread"), fill=request.get("fill", "close"))
        outcome = run_and_store(run_settings, store, spec, name=request.get("name", ""), progress=progress)
        if reports_dir is not None:
            reports_dir.mkdir(parents=True, exist_ok=True)
            write_report(reports_dir / f"{outcome.run_id}.html", outcome.result,
                         f"pairflow backtest {outcome.run_id}: {request.get('name', '')}")
        return outcome.run_id

    return launch
