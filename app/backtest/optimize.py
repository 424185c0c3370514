"""Walk-forward optimisation: Optuna on each training window, only out-of-sample results reported.

The recording is cut into ``folds + 1`` equal time slices; fold k trains on
everything before slice k+1 (anchored) and tests on slice k+1. The training
window is purged of its last ``embargo_ms`` -- at least the longest a
position may be held -- so no trade that could still be open at the test's
start is scored in-sample; the test then starts after the same embargo.
Optuna's TPE sampler (seeded: the same inputs give the same trials) proposes
parameters; trials run in parallel processes, ``jobs`` at a time; the
objective is the net Sharpe ratio of the training run. The best trial's
parameters are then run once on the test slice. Every trial is logged.

The overall verdict uses only the test slices: their daily returns, the
deflated Sharpe ratio with the number of trials and the variance of their
Sharpe ratios, and the PBO (CSCV) over every trial of every fold. CSCV needs
one matrix of the same days for every trial: all training windows start at
the recording's start, so the days of the shortest one (fold 0's) are days
every trial was run on, and they are the matrix's rows.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import optuna

from app.backtest.metrics import daily_returns, sharpe
from app.backtest.overfitting import deflated_sharpe, pbo_cscv
from app.backtest.run import BacktestResult, run_backtest
from pairflow.config import Settings
from pairflow.logs import get_logger
from sources.replay import Recording

__all__ = ["FoldResult", "OptimizeResult", "SEARCH_SPACE", "optimize", "slice_recording", "trial_pbo"]

log = get_logger(__name__)

SEARCH_SPACE: dict[str, tuple[str, Any, Any]] = {
    "entry_z": ("float", 1.0, 3.0),
    "exit_z": ("float", 0.0, 1.0),
    "kalman_delta": ("log", 1e-8, 1e-4),
    "zscore_window": ("int", 24, 240),
    "meta_label": ("bool", None, None),
}
"""Strategy settings searched: kind and bounds (``log``: log-uniform)."""


@dataclass
class FoldResult:
    """One fold: its windows, the trials' (params, training Sharpe), the best params and the test run's figures."""

    train: tuple[int, int]
    test: tuple[int, int]
    trials: list[tuple[dict[str, Any], float]]
    best: dict[str, Any]
    test_sharpe: float | None
    test_pnl: float
    test_returns: list[float]
    trial_returns: list[list[float]] = field(default_factory=list)
    trial_figures: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class OptimizeResult:
    """Every fold, and the out-of-sample verdict: Sharpe, DSR and PBO."""

    folds: list[FoldResult]
    oos_sharpe: float | None
    dsr: float | None
    pbo: float | None
    last_test: BacktestResult | None = None


def slice_recording(recording: Recording, start_ms: int, end_ms: int) -> Recording:
    """Return the bars opening in ``[start_ms, end_ms)``, the funding stamped there and the oracle prices recorded
    before ``end_ms`` (an hour early in the slice settles at one recorded before it); problems are not repeated."""
    bars = {coin: [bar for bar in series if start_ms <= bar.ts and bar.ts + recording.interval_ms <= end_ms]
            for coin, series in recording.bars.items()}
    funding = [rate for rate in recording.funding if start_ms <= rate.ts < end_ms]
    oracles = {coin: [(ts, px) for ts, px in series if ts < end_ms] for coin, series in recording.oracles.items()}
    return Recording(recording.interval, recording.interval_ms, bars, funding, oracles=oracles)


def _suggest(trial: optuna.Trial) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, (kind, low, high) in SEARCH_SPACE.items():
        if kind == "float":
            params[name] = trial.suggest_float(name, low, high)
        elif kind == "log":
            params[name] = trial.suggest_float(name, low, high, log=True)
        elif kind == "int":
            params[name] = trial.suggest_int(name, low, high)
        else:
            params[name] = trial.suggest_categorical(name, [False, True])
    return params


def _with(settings: Settings, params: dict[str, Any]) -> Settings:
    copy = settings.model_copy(deep=True)
    for name, value in params.items():
        setattr(copy.strategy, name, value)
    copy.strategy.exit_z = min(copy.strategy.exit_z, copy.strategy.entry_z * 0.9)
    copy.strategy.warmup_rows = min(copy.strategy.warmup_rows, copy.strategy.zscore_window)
    return copy


def _evaluate(task: tuple[Settings, Recording, list[tuple[str, ...]], dict[str, Any]]
              ) -> tuple[float, list[float], dict[str, Any]]:
    settings, recording, spreads, params = task
    result = run_backtest(_with(settings, params), recording, spreads)
    return _objective(result), _returns(result), _figures(result)


def _figures(result: BacktestResult) -> dict[str, Any]:
    metrics = result.metrics
    return {"sharpe": metrics.sharpe if metrics else None, "pnl": metrics.pnl if metrics else 0.0,
            "fees": metrics.fees if metrics else 0.0, "trades": len(result.fills),
            "max_drawdown": metrics.max_drawdown if metrics else 0.0}


def _objective(result: BacktestResult) -> float:
    value = result.metrics.sharpe if result.metrics is not None else None
    return -10.0 if value is None or not math.isfinite(value) else value


def _returns(result: BacktestResult) -> list[float]:
    return daily_returns(result.curve)


def optimize(settings: Settings, recording: Recording, spreads: Sequence[tuple[str, ...]], *, folds: int = 3,
             trials: int = 20, jobs: int = 2, embargo_ms: int | None = None, seed: int = 0,
             on_trial: Callable[[int, int, dict[str, Any], float], None] | None = None) -> OptimizeResult:
    """Run the walk-forward optimisation; see the module docstring. ``on_trial(fold, n, params, sharpe)`` logs each."""
    embargo = embargo_ms if embargo_ms is not None else max(settings.execution.time_stop_ms,
                                                            settings.strategy.meta_max_hold_ms)
    start, end = recording.start_ms, recording.end_ms
    step = (end - start) // (folds + 1)
    results: list[FoldResult] = []
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        for fold in range(folds):
            train = (start, start + (fold + 1) * step - embargo)
            test = (start + (fold + 1) * step + embargo, start + (fold + 2) * step if fold < folds - 1 else end)
            train_data = slice_recording(recording, *train)
            study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed + fold))
            done: list[tuple[dict[str, Any], float]] = []
            trial_returns: list[list[float]] = []
            trial_figures: list[dict[str, Any]] = []
            while len(done) < trials:
                batch = [study.ask() for _ in range(min(jobs, trials - len(done)))]
                params = [_suggest(trial) for trial in batch]
                outcomes = list(pool.map(_evaluate, [(settings, train_data, list(spreads), p) for p in params]))
                for trial, chosen, (value, returns, figures) in zip(batch, params, outcomes):
                    study.tell(trial, value)
                    done.append((chosen, value))
                    trial_returns.append(returns)
                    trial_figures.append(figures)
                    log.info("optimisation trial", fold=fold, trial=len(done), params=chosen, sharpe=value)
                    if on_trial is not None:
                        on_trial(fold, len(done), chosen, value)
            best = max(done, key=lambda pair: pair[1])[0]
            tested = run_backtest(_with(settings, best), slice_recording(recording, *test), spreads)
            metrics = tested.metrics
            results.append(FoldResult(train, test, done, best, metrics.sharpe if metrics else None,
                                      metrics.pnl if metrics else 0.0, _returns(tested), trial_returns,
                                      trial_figures))
    verdict = _verdict(results)
    verdict.last_test = tested if folds else None
    return verdict


def _verdict(folds: list[FoldResult]) -> OptimizeResult:
    oos = [r for fold in folds for r in fold.test_returns]
    oos_sharpe = sharpe(oos, 365)
    values = [value for fold in folds for _, value in fold.trials if value > -10.0]
    n_trials = sum(len(fold.trials) for fold in folds)
    dsr = None
    if oos_sharpe is not None and len(values) > 1 and len(oos) > 1:
        per_day = [value / math.sqrt(365) for value in values]
        mean = sum(per_day) / len(per_day)
        variance = sum((v - mean) ** 2 for v in per_day) / (len(per_day) - 1)
        moments = _moments(oos)
        dsr = deflated_sharpe(oos_sharpe / math.sqrt(365), len(oos), n_trials, variance, *moments)
    return OptimizeResult(folds, oos_sharpe, dsr, trial_pbo([s for fold in folds for s in fold.trial_returns]))


def trial_pbo(trial_returns: Sequence[Sequence[float]]) -> float | None:
    """Return the PBO (CSCV) of every trial on the days all of them share, or None with too few.

    Each series is one trial's daily returns from the recording's start, so day t is the same day in
    every series and the common days are the first ``min(len)``. Blocks: 8, or 4 under 16 days.

    Examples
    --------
    >>> base = [0.01, -0.02, 0.03, 0.0, 0.01, -0.01, 0.02, 0.0]
    >>> trial_pbo([base, [r + 0.01 for r in base], base[:7]])  # the better trial is better out of sample too
    0.0
    >>> trial_pbo([[0.01, 0.02], [0.0, 0.01]]) is None
    True
    """
    width = min((len(series) for series in trial_returns), default=0)
    if len(trial_returns) < 2 or width < 4:
        return None
    rows = [[series[t] for series in trial_returns] for t in range(width)]
    return pbo_cscv(rows, blocks=4 if width < 16 else 8)[0]


def _moments(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    m2 = sum((v - mean) ** 2 for v in values) / n
    if m2 == 0:
        return 0.0, 3.0
    m3 = sum((v - mean) ** 3 for v in values) / n
    m4 = sum((v - mean) ** 4 for v in values) / n
    return m3 / m2**1.5, m4 / m2**2

