"""Performance figures of a backtest from its equity curve, round trips and PnL attribution.

Returns are measured on UTC days (the last equity of each day against the
previous day's), annualised over 365 days because perps trade every day;
`literature_figures` gives the 252-day convention published pairs studies use.
Every function is pure and takes plain numbers, so the figures can be checked
by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Metrics", "compute_metrics", "daily_returns", "drawdown", "literature_figures", "literature_from_curves",
           "sharpe"]

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Metrics:
    """The run's figures; ratios are None where undefined (too few days, no variance, no drawdown)."""

    total_return: float
    annual_return: float
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float
    max_drawdown_ms: int
    win_rate: float | None
    round_trips: int
    turnover: float
    exposure: float
    pnl: float
    spread_pnl: float
    fees: float
    funding: float
    slippage: float

    def as_dict(self) -> dict[str, float | int | None]:
        """Return the figures by name."""
        return asdict(self)


def daily_returns(curve: Sequence[tuple[int, float]]) -> list[float]:
    """Return simple returns between the last equity of consecutive UTC days, the first against the start.

    The curve is in time order (as runs record it); its last point of each day is found with numpy, a
    minute-bar run having tens of thousands of points.

    >>> daily_returns([(0, 100.0), (DAY_MS, 110.0), (DAY_MS + 5, 99.0), (2 * DAY_MS, 99.0)])
    [0.0, -0.01, 0.0]
    """
    return _daily_returns(*_arrays(curve)) if curve else []


def _daily_returns(times: np.ndarray, equity: np.ndarray) -> list[float]:
    days = times // DAY_MS
    last = np.flatnonzero(np.append(days[1:] != days[:-1], True))
    values = [float(equity[0]), *equity[last].tolist()]
    return [round(b / a - 1.0, 15) for a, b in zip(values, values[1:]) if a]


def _arrays(curve: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    return (np.fromiter((ts for ts, _ in curve), np.int64, len(curve)),
            np.fromiter((equity for _, equity in curve), np.float64, len(curve)))


def sharpe(returns: Sequence[float], periods: float) -> float | None:
    """Return ``sqrt(periods) * mean / sd`` (sample sd); None with fewer than two returns or no variance.

    >>> round(sharpe([0.01, 0.02, 0.03], 252), 4)
    31.749
    """
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    return None if var <= 0 else math.sqrt(periods) * mean / math.sqrt(var)


def _sortino(returns: Sequence[float], periods: float) -> float | None:
    if len(returns) < 2:
        return None
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    return None if downside == 0 else math.sqrt(periods) * (sum(returns) / len(returns)) / downside


def drawdown(curve: Sequence[tuple[int, float]]) -> tuple[float, int]:
    """Return the largest fall from a peak (fraction of the peak) and the longest time below a peak, ms.

    A point at or above every earlier one is a peak; the others fall ``1 - equity / peak`` below
    theirs (numpy over the whole curve, in time order).

    >>> drawdown([(0, 100.0), (1, 80.0), (2, 90.0), (5, 101.0)])
    (0.2, 5)
    """
    return _drawdown(*_arrays(curve)) if curve else (0.0, 0)


def _drawdown(times: np.ndarray, equity: np.ndarray) -> tuple[float, int]:
    before = np.concatenate([[-math.inf], np.maximum.accumulate(equity)[:-1]])
    peak = equity >= before
    below = ~peak & (before > 0)
    worst = float(max(0.0, (1.0 - equity[below] / before[below]).max(initial=0.0)))
    peaks = times[peak]
    longest = int(np.diff(peaks).max(initial=0))
    if not peak[-1]:
        longest = max(longest, int(times[-1] - peaks[-1]))
    return round(worst, 12), longest


def compute_metrics(curve: Sequence[tuple[int, float]], capital: float, round_trip_pnls: Sequence[float],
                    traded_notional: float, exposed_ms: int, *, fees: float, funding: float,
                    slippage: float, arrays: tuple[np.ndarray, np.ndarray] | None = None) -> Metrics:
    """Return the run's `Metrics` from its equity curve ``[(ts, equity)]`` and its bookkeeping.

    ``traded_notional`` over capital and years is the turnover (times a year);
    ``exposed_ms`` over the span is the exposure (share of time in a position);
    ``arrays`` are the curve's times and equity when the caller already holds them as numpy arrays.
    """
    start, end = (curve[0][0], curve[-1][0]) if curve else (0, 0)
    years = max(end - start, 1) / (365 * DAY_MS)
    final = curve[-1][1] if curve else capital
    total = final / capital - 1.0
    annual = (1.0 + total) ** (1.0 / years) - 1.0 if total > -1 and years > 0 else -1.0
    if curve and arrays is None:
        arrays = _arrays(curve)
    returns = _daily_returns(*arrays) if curve and arrays else []
    worst, duration = _drawdown(*arrays) if curve and arrays else (0.0, 0)
    wins = [pnl for pnl in round_trip_pnls if pnl > 0]
    pnl = final - capital
    return Metrics(
        total_return=total, annual_return=annual, sharpe=sharpe(returns, 365), sortino=_sortino(returns, 365),
        calmar=annual / worst if worst > 0 else None, max_drawdown=worst, max_drawdown_ms=duration,
        win_rate=len(wins) / len(round_trip_pnls) if round_trip_pnls else None, round_trips=len(round_trip_pnls),
        turnover=traded_notional / capital / years, exposure=exposed_ms / max(end - start, 1),
        pnl=pnl, spread_pnl=pnl + fees - funding + slippage, fees=fees, funding=funding, slippage=slippage)


def literature_figures(daily_pnl: Sequence[float], gross_value: Sequence[float]) -> tuple[float, float | None]:
    """Return (APR, Sharpe) the way pairs studies report them, over 252 trading days.

    The daily return is the day's PnL over the gross market value of the
    previous day's positions (days without positions return 0); APR compounds
    the mean daily return over 252 days; Sharpe is ``sqrt(252) * mean / sd``.

    >>> apr, s = literature_figures([0.0, 1.0, -0.5], [100.0, 100.0, 0.0])
    >>> round(apr, 6), round(s, 4)
    (0.876135, 3.7417)
    """
    returns = [pnl / gross if gross else 0.0 for pnl, gross in zip(daily_pnl[1:], gross_value[:-1])]
    mean = sum(returns) / len(returns) if returns else 0.0
    return (1.0 + mean) ** 252 - 1.0, sharpe(returns, 252)


def literature_from_curves(curve: Sequence[tuple[int, float]],
                           gross: Sequence[tuple[int, float]]) -> tuple[float, float | None]:
    """Return `literature_figures` from equity and gross-value curves sampled on the same times (UTC days).

    >>> curve = [(0, 100.0), (DAY_MS, 101.0), (2 * DAY_MS, 100.5)]
    >>> round(literature_from_curves(curve, [(0, 0.0), (DAY_MS, 100.0), (2 * DAY_MS, 0.0)])[0], 4)
    -0.4678
    """
    equity: dict[int, float] = {}
    value: dict[int, float] = {}
    for (ts, eq), (_, gv) in zip(curve, gross):
        equity[ts // DAY_MS], value[ts // DAY_MS] = eq, gv
    days = sorted(equity)
    pnl = [0.0] + [equity[b] - equity[a] for a, b in zip(days, days[1:])]
    return literature_figures(pnl, [value[day] for day in days])
