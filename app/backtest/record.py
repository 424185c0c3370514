"""Store a backtest run, its trades and equity curve (``backtest_runs`` / ``_trades`` / ``_equity``), an
optimisation's trials and verdict (``trials``, ``optimize_runs``), and name the code that ran it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from app.backtest.run import BacktestResult
from pairflow.clock import WALL_CLOCK
from pairflow.storage import Store

if TYPE_CHECKING:  # optuna, which optimize imports, is not needed to store a plain backtest
    from app.backtest.optimize import OptimizeResult

__all__ = ["CURVE_POINTS", "code_version", "curve_points", "run_id", "store_run", "store_trials"]

_REPO = Path(__file__).resolve().parents[2]
CURVE_POINTS = 2000
"""Most equity points stored per run: enough for a chart, few enough to compare runs in a browser."""


def code_version() -> str:
    """Return ``git describe --always --dirty`` of the checkout, else the installed package version."""
    try:
        described = subprocess.run(["git", "-C", str(_REPO), "describe", "--always", "--dirty"], capture_output=True,
                                   text=True, timeout=10, check=True).stdout.strip()
        if described:
            return described
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return metadata.version("pairflow")
    except metadata.PackageNotFoundError:
        return "unknown"


def run_id(result: BacktestResult, config: str) -> str:
    """Return the run's id: its trades' hash and config, so the same run stored twice is one row."""
    return hashlib.sha256(f"{result.trades_hash}|{config}".encode()).hexdigest()[:16]


def curve_points(curve: list[tuple[int, float]], limit: int = CURVE_POINTS) -> list[tuple[int, float]]:
    """Return at most ``limit`` points of ``curve``: evenly spaced, always the last one.

    >>> curve_points([(t, float(t)) for t in range(10)], limit=4)
    [(0, 0.0), (3, 3.0), (6, 6.0), (9, 9.0)]
    """
    step = -(-len(curve) // limit) if curve else 1
    kept = curve[::step]
    return kept if not curve or kept[-1] == curve[-1] else [*kept[: limit - 1], curve[-1]]


def store_run(store: Store, result: BacktestResult, *, name: str, config: str, data: str, fill_mode: str,
              problems: list[str]) -> str:
    """Write the run and every fill and funding payment; return the run id."""
    assert result.metrics is not None
    rid = run_id(result, config)
    now = WALL_CLOCK.now_ms()
    figures = result.metrics
    row = {
        "ts": result.start_ms, "recv_ts": now, "id": rid, "name": name, "strategy": "spread", "status": "done",
        "start_ts": result.start_ms, "end_ts": result.end_ms, "params": config, "pairs": result.spreads,
        "trades": len(result.fills), "total_pnl": figures.pnl, "fees": figures.fees, "funding": figures.funding,
        "sharpe": figures.sharpe, "sortino": figures.sortino, "max_drawdown": figures.max_drawdown,
        "commit": code_version(), "data": data, "fill_mode": fill_mode, "trades_hash": result.trades_hash,
        "metrics": json.dumps(figures.as_dict()), "per_spread": json.dumps(result.per_spread),
        "data_problems": problems,
    }
    store.insert_columns("backtest_runs", [[value] for value in row.values()], list(row))
    trades = [(f.ts, f"{rid}:{f.id}", f.coin, f.side, f.px, f.sz, f.fee, 0.0, -f.fee, "fill",
               result.pair_of.get(f.cloid, "")) for f in result.fills]
    trades += [(p.ts, f"{rid}:{p.id}", p.coin, "", 0.0, p.szi, 0.0, p.usdc, p.usdc, "funding", "")
               for p in result.funding]
    if trades:
        names = ["ts", "id", "coin", "side", "px", "sz", "fee", "funding", "pnl", "kind", "pair"]
        columns = [list(column) for column in zip(*trades)]
        store.insert_columns("backtest_trades", [*columns, [now] * len(trades), [rid] * len(trades)],
                             [*names, "recv_ts", "run_id"])
    points = curve_points(result.curve)
    if points:
        times, values = zip(*points)
        store.insert_columns("backtest_equity", [[rid] * len(points), list(times), [now] * len(points), list(values)],
                             ["run_id", "ts", "recv_ts", "equity"])
    return rid


def store_trials(store: Store, result: OptimizeResult, config: str, spreads: list[str]) -> str:
    """Write every trial of every fold (params, training window and figures) and the out-of-sample verdict
    (Sharpe, PnL, DSR, PBO) the API serves; return the optimisation's id.

    The id hashes the configuration and every trial, so the same optimisation stored twice is one set of rows.
    """
    rows = [(fold_index, number, fold.train, params, figures)
            for fold_index, fold in enumerate(result.folds)
            for number, ((params, _), figures) in enumerate(zip(fold.trials, fold.trial_figures), 1)]
    digest = hashlib.sha256(config.encode())
    for row in rows:
        digest.update(json.dumps(row[:4], sort_keys=True, default=str).encode())
    rid = digest.hexdigest()[:16]
    now = WALL_CLOCK.now_ms()
    columns = {"ts": [], "id": [], "run_id": [], "fold": [], "trial": [], "train_start_ts": [], "train_end_ts": [],
               "params": [], "sharpe": [], "pnl": [], "fees": [], "trades": [], "max_drawdown": []}
    for fold_index, number, (start, end), params, figures in rows:
        values = {"ts": now, "id": f"{rid}:{fold_index}:{number}", "run_id": rid, "fold": fold_index, "trial": number,
                  "train_start_ts": start, "train_end_ts": end, "params": json.dumps(params, sort_keys=True),
                  **{name: figures[name] for name in ("sharpe", "pnl", "fees", "trades", "max_drawdown")}}
        for name, value in values.items():
            columns[name].append(value)
    if rows:
        store.insert_columns("trials", list(columns.values()), list(columns))
    verdict = {"ts": now, "recv_ts": now, "id": rid, "spreads": spreads,
               "folds": len(result.folds), "trials": len(rows), "oos_sharpe": result.oos_sharpe,
               "oos_pnl": sum(fold.test_pnl for fold in result.folds), "dsr": result.dsr, "pbo": result.pbo,
               "params": config}
    store.insert_columns("optimize_runs", [[value] for value in verdict.values()], list(verdict))
    return rid
