"""Store a backtest run and its trades (``backtest_runs`` / ``backtest_trades``) and name the code that ran it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path

from app.backtest.run import BacktestResult
from pairflow.clock import WALL_CLOCK
from pairflow.storage import Store

__all__ = ["code_version", "run_id", "store_run"]

_REPO = Path(__file__).resolve().parents[2]


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
    return rid
