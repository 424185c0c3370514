"""Engle-Granger and Johansen cointegration tests on log prices (batch, statsmodels underneath).

Engle-Granger regresses one leg on the other and tests the residual for a
unit root; the answer depends on which leg is the dependent one, so the scan
runs both directions and counts both tests. Johansen tests the whole vector
at once: its trace and maximum-eigenvalue statistics against critical values
give the number of cointegrating relations, and the eigenvectors are the
weights of the stationary combinations -- the basket weights for 3+ coins.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["EngleGranger", "Johansen", "engle_granger", "johansen"]

JOHANSEN_MAX_VARIABLES = 12  # statsmodels tabulates critical values up to 12 variables


class EngleGranger(NamedTuple):
    """Engle-Granger test of ``y = hedge_ratio * x + intercept + stationary residual``."""

    statistic: float
    pvalue: float
    hedge_ratio: float
    intercept: float
    critical_values: tuple[float, float, float]  # 1 %, 5 %, 10 %


class Johansen(NamedTuple):
    """Johansen statistics; index ``r`` tests "at most r relations".

    ``weights`` is the eigenvector of the largest eigenvalue scaled so the
    first variable has weight 1: ``sum(weights * levels)`` is the most
    stationary combination. ``rank`` is the number of relations the trace
    test accepts at 95 %.
    """

    trace: tuple[float, ...]
    trace_critical: tuple[tuple[float, float, float], ...]  # 90 %, 95 %, 99 %
    max_eigen: tuple[float, ...]
    max_eigen_critical: tuple[tuple[float, float, float], ...]
    eigenvalues: tuple[float, ...]
    weights: tuple[float, ...]
    rank: int


def engle_granger(y: np.ndarray, x: np.ndarray, max_lag: int = 2) -> EngleGranger:
    """Test ``y`` against ``x`` (constant term, ADF lags chosen by AIC up to ``max_lag``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.cumsum(rng.standard_normal(500))
    >>> result = engle_granger(2.0 * x + 1.0 + rng.standard_normal(500), x)
    >>> result.pvalue < 0.01, round(result.hedge_ratio, 1)
    (True, 2.0)
    """
    # Imported here: statsmodels costs a second of CPU at start-up, and most processes (a demo's first minutes,
    # every stage but the scan) never test cointegration.
    from statsmodels.tsa.stattools import coint

    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    statistic, pvalue, critical = coint(y, x, trend="c", maxlag=max_lag, autolag="aic")
    hedge_ratio, intercept = np.polyfit(x, y, 1)
    return EngleGranger(float(statistic), float(pvalue), float(hedge_ratio), float(intercept),
                        tuple(float(c) for c in critical))  # type: ignore[arg-type]


def johansen(levels: np.ndarray, det_order: int = 0, lags: int = 1) -> Johansen:
    """Run Johansen's test on ``levels`` (observations x variables), constant term by default.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> common = np.cumsum(rng.standard_normal(800))
    >>> levels = np.column_stack([common + rng.standard_normal(800), 0.5 * common + rng.standard_normal(800)])
    >>> result = johansen(levels)
    >>> result.rank, round(result.weights[1], 1)
    (1, -2.0)
    """
    levels = np.asarray(levels, dtype=float)
    if not 2 <= levels.shape[1] <= JOHANSEN_MAX_VARIABLES:
        raise ValueError(f"Johansen needs 2 to {JOHANSEN_MAX_VARIABLES} variables, received {levels.shape[1]}")
    from statsmodels.tsa.vector_ar.vecm import coint_johansen  # imported here, as in engle_granger

    result = coint_johansen(levels, det_order, lags)
    trace = tuple(float(v) for v in result.lr1)
    trace_critical = tuple(tuple(float(c) for c in row) for row in result.cvt)
    rank = 0
    while rank < len(trace) and trace[rank] > trace_critical[rank][1]:
        rank += 1
    vector = result.evec[:, 0]
    return Johansen(
        trace=trace,
        trace_critical=trace_critical,  # type: ignore[arg-type]
        max_eigen=tuple(float(v) for v in result.lr2),
        max_eigen_critical=tuple(tuple(float(c) for c in row) for row in result.cvm),  # type: ignore[arg-type]
        eigenvalues=tuple(float(v) for v in result.eig),
        weights=tuple(float(w) for w in vector / vector[0]),
        rank=rank,
    )
