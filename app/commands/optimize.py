"""``pairflow optimize``: walk-forward Optuna search of strategy parameters, reporting out-of-sample results only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import optuna
import typer
from rich.console import Console
from rich.table import Table

from app.backtest.optimize import SEARCH_SPACE, optimize
from app.backtest.record import store_trials
from app.backtest.report import write_report
from app.commands.backtest import load_recording, parse_spreads, parse_time
from app.options import ConfigOption
from pairflow.config import load_settings
from pairflow.errors import ConfigError
from pairflow.logs import start_logging
from pairflow.storage import connect
from sources.replay import iso

__all__ = ["register"]


def optimize_command(
    spreads: Annotated[str | None, typer.Option("--spreads", help="Spreads, e.g. ETH/SOL; default: strategy.pairs.")] = None,
    data: Annotated[list[str] | None, typer.Option(
        "--data", help="'store' or CSV/Parquet files, repeatable; default: store.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First bar time (ISO, UTC).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End time (ISO, UTC), exclusive.")] = None,
    folds: Annotated[int, typer.Option("--folds", min=1, help="Walk-forward folds (train before, test after).")] = 3,
    trials: Annotated[int, typer.Option("--trials", min=2, help="Optuna trials per fold.")] = 20,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Trials run at once, each in its own process.")] = 2,
    embargo_h: Annotated[float | None, typer.Option(
        "--embargo-hours", min=0, help="Purge/embargo around each test window; default: the longest holding time.")] = None,
    trials_log: Annotated[Path | None, typer.Option("--trials-log", help="Also write every trial as a JSON line here.")] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="HTML report of the last fold's test run with every trial's parameter sensitivity.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Sampler seed (same inputs and seed: same trials).")] = 0,
    save: Annotated[bool, typer.Option(
        "--save/--no-save", help="Store every trial (trials table) and the verdict (optimize_runs, served by the API).")] = True,
    config: ConfigOption = None,
) -> None:
    """Search entry/exit bands, Kalman delta, z-score window and the meta-label switch on each training window.

    Objective: net Sharpe of the training backtest. Only the test windows'
    results are reported, with the deflated Sharpe ratio over all trials and
    the probability of backtest overfitting (CSCV over every trial of every
    fold). Every trial is logged and stored in the trials table, the verdict
    in optimize_runs.

    \b
    Examples:
      pairflow optimize --spreads ETH/SOL --folds 3 --trials 20 --jobs 2 --seed 7
    """
    settings = load_settings(config)
    start_logging(settings)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pairs, legs = parse_spreads(spreads, settings)
    coins = sorted({coin for spread in legs for coin in spread})
    store = connect(settings.storage)
    try:
        store.init_schema()
        recording = load_recording(settings, store, data or ["store"], coins, parse_time(start, "--from"),
                                   parse_time(end, "--to"))
    finally:
        store.close()
    embargo_ms = None if embargo_h is None else int(embargo_h * 3_600_000)
    if embargo_ms is not None and embargo_ms < settings.execution.time_stop_ms:
        raise ConfigError(f"--embargo-hours {embargo_h} is shorter than the longest holding time "
                          f"(execution.time_stop_ms = {settings.execution.time_stop_ms / 3_600_000:g} h)")
    sink = trials_log.open("w") if trials_log is not None else None

    def logged(fold: int, number: int, params: dict[str, Any], value: float) -> None:
        if sink is not None:
            sink.write(json.dumps({"fold": fold, "trial": number, "params": params, "train_sharpe": value}) + "\n")
            sink.flush()

    try:
        result = optimize(settings, recording, legs, folds=folds, trials=trials, jobs=jobs, embargo_ms=embargo_ms,
                          seed=seed, on_trial=logged)
    finally:
        if sink is not None:
            sink.close()
    table = Table(title=f"walk-forward, out-of-sample only ({', '.join(pairs)}; searched {', '.join(SEARCH_SPACE)})")
    for column in ("fold", "test window", "best params (from training)", "test Sharpe", "test PnL"):
        table.add_column(column)
    for index, fold in enumerate(result.folds):
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in fold.best.items())
        table.add_row(str(index), f"{iso(fold.test[0])} .. {iso(fold.test[1])}", params,
                      "n/a" if fold.test_sharpe is None else f"{fold.test_sharpe:.2f}", f"{fold.test_pnl:,.2f}")
    console = Console()
    console.print(table)
    if save:
        run_config = json.dumps({"strategy": settings.strategy.model_dump(mode="json"), "spreads": pairs,
                                 "data": data or ["store"], "from": start, "to": end, "folds": folds, "trials": trials,
                                 "embargo_ms": embargo_ms, "seed": seed}, sort_keys=True)
        store = connect(settings.storage)
        try:
            console.print(f"trials stored in table trials, run {store_trials(store, result, run_config, pairs)}")
        finally:
            store.close()
    fmt = lambda value: "n/a" if value is None else f"{value:.3f}"  # noqa: E731
    console.print(f"out-of-sample Sharpe {fmt(result.oos_sharpe)}, deflated Sharpe ratio {fmt(result.dsr)} "
                  f"({sum(len(f.trials) for f in result.folds)} trials), PBO {fmt(result.pbo)}")
    if report is not None and result.last_test is not None:
        trials_all = [trial for fold in result.folds for trial in fold.trials]
        write_report(report, result.last_test, f"pairflow optimize: last fold out of sample ({', '.join(pairs)})",
                     trials_all)
        console.print(f"report: {report}")


def register(app: typer.Typer) -> None:
    """Add the ``optimize`` command to the pairflow CLI."""
    app.command("optimize")(optimize_command)
