"""Benjamini-Hochberg control of the false discovery rate across a family of tests.

A pair scan runs hundreds of cointegration tests; at p < 0.05 about one in
twenty independent coins would look cointegrated by chance. Adjusting every
p-value of the family to a q-value and accepting ``q <= Q`` keeps the expected
share of false acceptances among all acceptances at most ``Q`` (for
independent or positively dependent tests).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["benjamini_hochberg"]


def benjamini_hochberg(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Return the Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    ``q_(i) = min_{j >= i} p_(j) * m / j`` over the p-values sorted ascending,
    capped at 1; a test is a discovery at level Q when its q-value is <= Q.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.5]
    """
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return p.copy()
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must be numbers in [0, 1]")
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(adjusted, 1.0)
    return q
