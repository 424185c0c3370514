"""What every benchmark shares: the machine and checkout it ran on, its options, timing and its result block.

One module so that every result block states the machine, the commit and the
timing rule (best of round-robin repeats) the same way, and run_all finds
every block where the benchmark wrote it.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["arguments", "best_of", "commit", "cpu_model", "git", "machine_line", "percentile", "provenance", "publish"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo (the platform's processor string elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git(*args: str) -> str:
    """Run ``git <args>`` in the repository and return its stripped output ("" when git fails or is missing)."""
    try:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return result.stdout.strip()


def commit(*paths: str) -> str:
    """Return the short commit id, marked when ``paths`` hold uncommitted changes: the figures are then not
    the commit's."""
    found = git("rev-parse", "--short", "HEAD") or "none"
    if paths and git("status", "--porcelain", "--", *paths):
        found += " + uncommitted changes"
    return found


def machine_line() -> str:
    """Return the CPU, cores, Python and load average, read at the end of a run (the machine is shared)."""
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{cpu_model()} ({os.cpu_count()} cores), Python {platform.python_version()}, load average {load} at the end"


def provenance(*paths: str) -> list[str]:
    """Return the date, commit and machine lines that open every result block (see `commit` for ``paths``)."""
    return [
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, commit {commit(*paths)}",
        f"- machine: {machine_line()}",
    ]


def arguments(doc: str | None, name: str, *, repeats: int | None = 3, seed: int | None = 7) -> argparse.ArgumentParser:
    """Return the parser every benchmark starts from: ``--repeats`` and ``--seed`` where it has them, and
    ``--write``, which saves the result block as benchmarks/results/``name``.md."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    if repeats is not None:
        parser.add_argument("--repeats", type=int, default=repeats, help="timed runs per path (best is reported)")
    if seed is not None:
        parser.add_argument("--seed", type=int, default=seed, help="random seed of the generated input")
    parser.add_argument("--write", action="store_true", help=f"also write benchmarks/results/{name}.md")
    return parser


def publish(text: str, name: str, write: bool) -> None:
    """Print the result block and, with ``write``, save it as benchmarks/results/``name``.md for run_all."""
    print(text)
    if write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{name}.md").write_text(text if text.endswith("\n") else text + "\n")


def best_of(repeats: int, paths: dict[str, Callable[[], object]]) -> dict[str, tuple[float, float]]:
    """Run each path ``repeats`` times round-robin, each after a garbage collection, and return per path the
    best (process CPU seconds, wall seconds): round-robin spreads the machine's noise over every path."""
    best = {name: (float("inf"), float("inf")) for name in paths}
    for _ in range(repeats):
        for name, action in paths.items():
            gc.collect()
            cpu, wall = time.process_time(), time.perf_counter()
            action()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            best[name] = (min(best[name][0], cpu), min(best[name][1], wall))
    return best


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile of ``values`` by rank (no interpolation: a latency that was measured)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
