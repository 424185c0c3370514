"""The rich console summary of a backtest run: figures, PnL attribution, per-spread lines, data problems."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from app.backtest.metrics import literature_from_curves
from app.backtest.run import BacktestResult
from sources.replay import iso

__all__ = ["print_summary", "print_sweep"]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def print_summary(console: Console, result: BacktestResult, run_id: str, problems: list[str]) -> None:
    """Print the run's figures, attribution and per-spread table."""
    figures = result.metrics
    assert figures is not None
    head = Table(title=f"backtest {run_id}: {iso(result.start_ms)} .. {iso(result.end_ms)}", show_header=False)
    rows = [
        ("total return", _pct(figures.total_return)), ("annualised return", _pct(figures.annual_return)),
        ("Sharpe (daily, 365)", _num(figures.sharpe)), ("Sortino", _num(figures.sortino)),
        ("Calmar", _num(figures.calmar)), ("max drawdown", _pct(figures.max_drawdown)),
        ("max drawdown duration", str(timedelta(milliseconds=figures.max_drawdown_ms))),
        ("round trips", str(figures.round_trips)), ("win rate", _pct(figures.win_rate)),
        ("turnover (x capital / year)", _num(figures.turnover)), ("exposure (time in market)", _pct(figures.exposure)),
        ("fills / funding payments", f"{len(result.fills)} / {len(result.funding)}"),
        ("trades hash", result.trades_hash[:16]),
    ]
    apr, literature_sharpe = literature_from_curves(result.curve, result.gross)
    rows.insert(3, ("APR / Sharpe (252 d, on gross value)", f"{apr:.2%} / {_num(literature_sharpe)}"))
    for name, value in rows:
        head.add_row(name, value)
    console.print(head)
    attribution = Table(title="PnL attribution (USD)")
    for column in ("spread", "fees", "funding", "slippage", "net"):
        attribution.add_column(column, justify="right")
    attribution.add_row(_num(figures.spread_pnl), _num(-figures.fees), _num(figures.funding), _num(-figures.slippage),
                        _num(figures.pnl))
    console.print(attribution)
    spreads = Table(title="per spread")
    for column in ("spread", "net PnL", "fees", "funding", "round trips", "wins"):
        spreads.add_column(column, justify="right")
    for pair, stats in result.per_spread.items():
        spreads.add_row(pair, _num(stats["pnl"]), _num(stats["fees"]), _num(stats["funding"]),
                        str(int(stats["round_trips"])), str(int(stats["wins"])))
    console.print(spreads)
    for problem in problems:
        console.print(f"[yellow]data:[/yellow] {problem}")


def print_sweep(console: Console, runs: Sequence[tuple[dict[str, Any], BacktestResult]]) -> None:
    """Print one line per swept value: Sharpe, net PnL, fills and max drawdown."""
    (name,) = runs[0][0]
    table = Table(title=f"parameter sensitivity: {name}")
    for column in (name, "Sharpe", "net PnL", "fills", "max drawdown"):
        table.add_column(column, justify="right")
    for params, result in runs:
        figures = result.metrics
        assert figures is not None
        table.add_row(f"{params[name]:g}", _num(figures.sharpe), _num(figures.pnl), str(len(result.fills)),
                      _pct(figures.max_drawdown))
    console.print(table)
