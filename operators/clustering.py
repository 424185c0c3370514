"""Group coins whose log returns move together, to limit which pairs a scan tests.

Testing every pair of 200 coins is 20,000 pairs and as many chances of a
false discovery; testing pairs within groups of co-moving coins is both
cheaper and better founded. Two routes:

* hierarchical: average-linkage clustering on the distance ``1 - rho`` of the
  return correlations, cut at ``max_distance``; every dendrogram node of
  3..``max_size`` coins under the cut is also a basket candidate;
* PCA + OPTICS (the machine-learning route): each coin is described by its
  loadings on the first principal components of the standardised returns, and
  OPTICS finds dense groups of coins in that space, leaving loners as noise.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

__all__ = ["hierarchical_clusters", "optics_clusters", "return_correlation"]


def return_correlation(log_prices: np.ndarray) -> np.ndarray:
    """Return the Pearson correlation matrix of the log returns of ``log_prices`` (rows: time, columns: coins).

    Examples
    --------
    >>> levels = np.log([[1.0, 2.0], [1.1, 2.2], [1.0, 2.0], [1.2, 2.4]])
    >>> return_correlation(levels).round(6).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    returns = np.diff(np.asarray(log_prices, dtype=float), axis=0)
    return np.atleast_2d(np.corrcoef(returns, rowvar=False))


def hierarchical_clusters(
    correlation: np.ndarray, max_distance: float = 0.6, max_size: int = 4
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, ...]]]:
    """Cluster on ``1 - correlation``; return labels (from 1), the linkage matrix and basket candidates.

    Examples
    --------
    >>> rho = np.array([[1, .9, .8, 0], [.9, 1, .85, 0], [.8, .85, 1, 0], [0, 0, 0, 1.0]])
    >>> labels, _, baskets = hierarchical_clusters(rho, max_distance=0.5)
    >>> labels.tolist(), baskets
    ([1, 1, 1, 2], [(0, 1, 2)])
    """
    distance = np.clip(1.0 - np.asarray(correlation, dtype=float), 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform((distance + distance.T) / 2.0, checks=False), method="average")
    labels = fcluster(tree, t=max_distance, criterion="distance")
    count = distance.shape[0]
    members: list[tuple[int, ...]] = [(i,) for i in range(count)]
    baskets = []
    for left, right, height, _ in tree:
        node = tuple(sorted(members[int(left)] + members[int(right)]))
        members.append(node)
        if height <= max_distance and 3 <= len(node) <= max_size:
            baskets.append(node)
    return labels, tree, baskets


def optics_clusters(log_prices: np.ndarray, components: int = 5, min_samples: int = 2) -> np.ndarray:
    """Cluster coins by PCA loadings of their standardised log returns with OPTICS; -1 marks noise.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.standard_normal((2, 400))
    >>> noise = 0.1 * rng.standard_normal((400, 6))
    >>> returns = np.column_stack([a, a, a, b, b, b]) + noise
    >>> labels = optics_clusters(np.cumsum(returns, axis=0), components=2)
    >>> labels.tolist()
    [0, 0, 0, 1, 1, 1]
    """
    from sklearn.cluster import OPTICS
    from sklearn.decomposition import PCA

    returns = np.diff(np.asarray(log_prices, dtype=float), axis=0)
    scale = returns.std(axis=0)
    standardised = (returns - returns.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    count = standardised.shape[1]
    if count < max(2, min_samples):
        return np.full(count, -1)
    pca = PCA(n_components=min(components, count, standardised.shape[0]))
    pca.fit(standardised)
    loadings = pca.components_.T * np.sqrt(pca.explained_variance_)
    return OPTICS(min_samples=min_samples).fit(loadings).labels_
