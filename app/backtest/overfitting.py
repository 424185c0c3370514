"""Overfitting control for optimisation: the deflated Sharpe ratio and the probability of backtest overfitting.

* `deflated_sharpe` (Bailey & López de Prado, 2014): the probability that
  the selected strategy's true Sharpe exceeds the best Sharpe that
  ``n_trials`` skill-less trials would show by luck, given the variance of
  the trials' Sharpe ratios, the track record's length and its skewness and
  kurtosis. Sharpe ratios here are per observation (not annualised).
* `pbo_cscv` (Bailey, Borwein, López de Prado & Zhu, combinatorially
  symmetric cross-validation): split the trials' return series into S blocks;
  for every half of the blocks as in-sample, take the in-sample best and find
  its relative rank out of sample; PBO is the share of splits where it ranks
  in the bottom half (logit <= 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

from scipy.stats import norm

__all__ = ["EULER_GAMMA", "deflated_sharpe", "expected_max_sharpe", "pbo_cscv", "probabilistic_sharpe"]

EULER_GAMMA = 0.5772156649015329


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """Return the expected largest Sharpe of ``n_trials`` trials with true Sharpe 0 and this variance.

    ``sqrt(V) * ((1 - g) * Z(1 - 1/N) + g * Z(1 - 1/(N e)))`` with ``g`` Euler's constant.

    >>> round(expected_max_sharpe(100, 0.5), 4)
    1.7894
    """
    if n_trials < 2:
        return 0.0
    return float(math.sqrt(sharpe_variance) * ((1 - EULER_GAMMA) * norm.ppf(1 - 1 / n_trials)
                                               + EULER_GAMMA * norm.ppf(1 - 1 / (n_trials * math.e))))


def probabilistic_sharpe(sharpe: float, benchmark: float, n_obs: int, skew: float = 0.0, kurtosis: float = 3.0) -> float:
    """Return P(true Sharpe > benchmark) for an observed per-period Sharpe over ``n_obs`` returns (kurtosis not excess).

    >>> round(probabilistic_sharpe(0.1, 0.0, 101), 4)
    0.8407
    """
    denominator = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if n_obs < 2 or denominator <= 0:
        return float("nan")
    return float(norm.cdf((sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(denominator)))


def deflated_sharpe(sharpe: float, n_obs: int, n_trials: int, sharpe_variance: float, skew: float = 0.0,
                    kurtosis: float = 3.0) -> float:
    """Return the deflated Sharpe ratio: `probabilistic_sharpe` against `expected_max_sharpe` (all per period)."""
    return probabilistic_sharpe(sharpe, expected_max_sharpe(n_trials, sharpe_variance), n_obs, skew, kurtosis)


def _score(series: Sequence[float]) -> float:
    n = len(series)
    mean = sum(series) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in series) / (n - 1)) if n > 1 else 0.0
    return mean / sd if sd > 0 else (math.inf if mean > 0 else -math.inf if mean < 0 else 0.0)


def pbo_cscv(returns: Sequence[Sequence[float]], blocks: int = 8) -> tuple[float, list[float]]:
    """Return (PBO, logits) over every split of ``blocks`` row blocks into halves; ``returns[t][n]`` is trial n at t.

    Performance is the Sharpe ratio of each trial on the rows in a half; the
    in-sample best's out-of-sample rank ``r`` (1 = worst of N) gives
    ``w = r / (N + 1)`` and the logit ``ln(w / (1 - w))``.
    """
    if blocks < 2 or blocks % 2:
        raise ValueError(f"blocks must be an even number >= 2, was {blocks}")
    rows = len(returns)
    if rows < blocks:
        raise ValueError(f"{rows} rows cannot be split into {blocks} blocks")
    trials = len(returns[0])
    size = rows // blocks
    parts = [list(range(i * size, (i + 1) * size)) for i in range(blocks)]
    logits: list[float] = []
    for chosen in combinations(range(blocks), blocks // 2):
        inside = [t for b in chosen for t in parts[b]]
        outside = [t for b in range(blocks) if b not in chosen for t in parts[b]]
        train = [_score([returns[t][n] for t in inside]) for n in range(trials)]
        test = [_score([returns[t][n] for t in outside]) for n in range(trials)]
        best = max(range(trials), key=lambda n: (train[n], -n))
        rank = 1 + sum(1 for n in range(trials) if test[n] < test[best])
        w = rank / (trials + 1)
        logits.append(math.log(w / (1 - w)))
    return sum(1 for value in logits if value <= 0) / len(logits), logits
