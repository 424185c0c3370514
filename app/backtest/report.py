"""The HTML report of a backtest (plotly, one self-contained file): equity and drawdown, each spread's z-score
with its entries and exits, PnL attribution, and -- from an optimisation's trials -- parameter sensitivity.

Plotly writes interactive charts into a single HTML file with its library
inlined, so a report opens anywhere without a server or network. It replaces
the file atomically (`pairflow.durable_file`): an interrupted run leaves the
previous report or none, never a truncated one that still opens.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.backtest.run import BacktestResult
from pairflow.durable_file import write_bytes
from pairflow.errors import ConfigError

__all__ = ["write_report"]


def _times(values: Sequence[int]) -> list[datetime]:
    return [datetime.fromtimestamp(ms / 1000, tz=UTC) for ms in values]


def _drawdown(equity: Sequence[float]) -> list[float]:
    peak, out = float("-inf"), []
    for value in equity:
        peak = max(peak, value)
        out.append(value / peak - 1.0 if peak > 0 else 0.0)
    return out


def write_report(path: Path, result: BacktestResult, title: str,
                 trials: Sequence[tuple[dict[str, Any], float]] = (),
                 sensitivity: str = "parameter sensitivity: training Sharpe per trial") -> Path:
    """Write the report to ``path``; ``trials`` (params, Sharpe) add the sensitivity panel titled ``sensitivity``.

    Raises
    ------
    ConfigError
        When ``path`` cannot be written (one line naming it and why).
    """
    assert result.metrics is not None
    spreads = result.spreads
    rows = 3 + len(spreads) + (1 if trials else 0)
    titles = ["equity (USD)", "drawdown", *[f"{pair}: z-score, entries and exits" for pair in spreads],
              "PnL attribution (USD)", *([sensitivity] if trials else [])]
    figure = make_subplots(rows=rows, cols=1, subplot_titles=titles, vertical_spacing=0.05)
    times = _times([ts for ts, _ in result.curve])
    equity = [value for _, value in result.curve]
    figure.add_trace(go.Scatter(x=times, y=equity, name="equity"), row=1, col=1)
    figure.add_trace(go.Scatter(x=times, y=_drawdown(equity), name="drawdown", fill="tozeroy"), row=2, col=1)
    for index, pair in enumerate(spreads, start=3):
        mine = [s for s in result.signals if s.pair == pair]
        figure.add_trace(go.Scatter(x=_times([s.ts for s in mine]), y=[s.zscore for s in mine], name=f"{pair} z",
                                    mode="lines"), row=index, col=1)
        for kind, symbol in (("entry", "triangle-up"), ("exit", "x"), ("stop", "x-thin")):
            marks = [s for s in mine if s.reason.startswith(kind)]
            figure.add_trace(go.Scatter(x=_times([s.ts for s in marks]), y=[s.zscore for s in marks], mode="markers",
                                        marker={"symbol": symbol, "size": 9}, name=f"{pair} {kind}"),
                             row=index, col=1)
    figures = result.metrics
    figure.add_trace(go.Bar(x=["spread", "fees", "funding", "slippage", "net"],
                            y=[figures.spread_pnl, -figures.fees, figures.funding, -figures.slippage, figures.pnl],
                            name="attribution"), row=3 + len(spreads), col=1)
    if trials:
        names = sorted({name for params, _ in trials for name, value in params.items()
                        if isinstance(value, (int, float)) and not isinstance(value, bool)})
        for name in names:
            figure.add_trace(go.Scatter(x=[params[name] for params, _ in trials], y=[value for _, value in trials],
                                        mode="markers", name=name), row=rows, col=1)
    figure.update_layout(title=title, height=320 * rows, showlegend=True)
    try:
        write_bytes(path, figure.to_html(include_plotlyjs=True, full_html=True).encode())
    except OSError as error:
        raise ConfigError(f"report {path} cannot be written: {error.strerror or error}") from None
    return path
