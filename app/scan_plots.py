"""PNG charts of a pair scan: a clustered correlation heatmap with its dendrogram, and spread/z-score charts.

Rendered with matplotlib's Agg backend (no display needed), so a scan on a
server can still be inspected by eye: the heatmap shows why coins were grouped,
the spread charts whether an accepted spread really looks mean-reverting.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from operators.scan import Panel, ScanResult
from operators.zscore import ZScore
from pairflow.events import PairStats

__all__ = ["plot_scan"]


def plot_scan(result: ScanResult, panel: Panel, directory: Path, top: int = 6) -> list[Path]:
    """Write ``correlation.png`` and one ``spread_<legs>.png`` per top accepted spread; return the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.cluster.hierarchy import dendrogram, linkage
    from scipy.spatial.distance import squareform

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if len(result.coins) >= 2:
        distance = np.clip(1.0 - result.correlation, 0.0, 2.0)
        np.fill_diagonal(distance, 0.0)
        tree = result.linkage if result.linkage is not None else linkage(squareform(distance, checks=False), "average")
        figure = plt.figure(figsize=(9, 10))
        top_axis = figure.add_axes((0.12, 0.78, 0.7, 0.17))
        heat_axis = figure.add_axes((0.12, 0.1, 0.7, 0.66))
        bar_axis = figure.add_axes((0.85, 0.1, 0.03, 0.66))
        threshold = result.config.max_distance
        order = dendrogram(tree, ax=top_axis, no_labels=True, color_threshold=threshold)["leaves"]
        top_axis.set_xlim(0, 10 * len(order))  # leaves sit at 5, 15, ...: one per heatmap column
        top_axis.set_title("Log-return correlation, clustered on 1 - rho (average linkage)")
        top_axis.set_yticks([])
        image = heat_axis.imshow(result.correlation[np.ix_(order, order)], cmap="RdBu_r", vmin=-1, vmax=1,
                                 aspect="auto")
        names = [result.coins[i] for i in order]
        heat_axis.set_xticks(range(len(names)), names, rotation=90)
        heat_axis.set_yticks(range(len(names)), names)
        figure.colorbar(image, cax=bar_axis)
        written.append(_save(figure, directory / "correlation.png"))
    for spread in result.accepted[:top]:
        written.append(_plot_spread(spread, panel, directory, plt))
    return written


def _plot_spread(spread: PairStats, panel: Panel, directory: Path, plt) -> Path:
    columns = [panel.coins.index(coin) for coin in spread.coins]
    series = np.log(panel.closes[:, columns]) @ np.array(spread.weights) - spread.intercept
    window = max(10, int(2 * (spread.half_life or 5)))
    scorer = ZScore(window=window)
    scores = {z.ts: z.zscore for t, value in enumerate(series) for z in scorer.update((t, float(value)))}
    hours = (panel.times - panel.times[0]) / 3_600_000
    figure, (upper, lower) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    upper.plot(hours, series, linewidth=0.8)
    upper.axhline(0.0, color="grey", linewidth=0.5)
    weights = " ".join(f"{w:+.3g}·{coin}" for w, coin in zip(spread.weights, spread.coins))
    upper.set_title(f"{spread.pair}: {weights}  (half-life {spread.half_life:.3g} bars, Hurst {spread.hurst:.2f})")
    upper.set_ylabel("spread (log)")
    lower.plot(hours[list(scores)], list(scores.values()), linewidth=0.8, color="tab:orange")
    for band in (-2.0, 2.0):
        lower.axhline(band, color="grey", linestyle="--", linewidth=0.5)
    lower.set_ylabel(f"z ({window} bars)")
    lower.set_xlabel("hours from the window start")
    figure.tight_layout()
    return _save(figure, directory / f"spread_{'_'.join(spread.coins)}.png")


def _save(figure, path: Path) -> Path:
    figure.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return path
