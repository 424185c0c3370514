"""Anomaly gate: Half-Space Trees score each tick's features; an anomalous tick blocks entries.

A tick that looks unlike recent history (a print far off the book, a leg that
jumped on its own, a funding spike) is a bad moment to open a spread: the
z-score may be an artefact. Half-Space Trees (Tan, Ting and Liu 2011) score
in constant time and memory and forget with their window, which suits a
stream. The trees split the unit cube, so each feature is standardised online
and ``[-4, 4]`` standard deviations are mapped onto ``[0, 1]`` (clipped): unlike
min-max scaling, one extreme tick does not squash every later one.

Each tick is scored *before* the model learns it, so a score at t depends only
on ticks before t. During the first ``window_size`` ticks the trees hold no
reference mass yet and the gate stays open.
"""

from __future__ import annotations

import math

from river import anomaly, preprocessing

from operators.state import ModelState, Record

__all__ = ["AnomalyGate", "AnomalyScore"]


class AnomalyScore(Record):
    """Score in [0, 1] (higher is more anomalous) and whether it closes the gate."""

    score: float
    anomalous: bool


class AnomalyGate(ModelState):
    """Score feature vectors with Half-Space Trees and flag the anomalous ones.

    Parameters
    ----------
    threshold
        Scores at or above it are anomalous.
    n_trees, height, window_size
        Half-Space Trees size and the reference window, in ticks. Keep
        ``2 ** height`` well below ``window_size`` or every leaf looks rare.
    seed
        Seed of the random splits, for reproducible scores.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(0)
    >>> gate = AnomalyGate(window_size=50, threshold=0.85, seed=1)
    >>> readings = [gate.update({"z": rng.gauss(0, 1), "vol": rng.gauss(0, 1)})[0] for i in range(300)]
    >>> sum(r.anomalous for r in readings) < 3
    True
    >>> gate.update({"z": 9.0, "vol": 9.0})[0].anomalous
    True
    """

    def __init__(
        self,
        threshold: float = 0.85,
        n_trees: int = 10,
        height: int = 4,
        window_size: int = 250,
        seed: int = 42,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must lie in (0, 1], received {threshold}")
        self.threshold = threshold
        self.window_size = window_size
        self.scaler = preprocessing.StandardScaler()
        self.trees = anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed)
        self.seen = 0

    @property
    def version(self) -> str:
        """Model version: the number of ticks learned."""
        return f"hst:{self.seen}"

    def update(self, features: dict[str, float]) -> list[AnomalyScore]:
        """Score ``features`` against the past, then learn them; return the score."""
        x = {name: value for name, value in features.items() if math.isfinite(value)}
        cube = {name: min(max((value + 4.0) / 8.0, 0.0), 1.0) for name, value in self.scaler.transform_one(x).items()}
        score = float(self.trees.score_one(cube))
        anomalous = self.seen >= self.window_size and score >= self.threshold
        self.scaler.learn_one(x)
        self.trees.learn_one(cube)
        self.seen += 1
        return [AnomalyScore(score, anomalous)]
