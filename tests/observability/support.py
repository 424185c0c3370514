"""Helpers of the observability tests: the Debian Prometheus tools, and checking PromQL against the catalogue."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pairflow.metrics import CATALOGUE, spec_of_series

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "infra" / "prometheus"
ALERTMANAGER_DIR = ROOT / "infra" / "alertmanager"

# Series Prometheus itself makes for every target; a rule may use them without a catalogue entry.
PROMETHEUS_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
# prometheus_client's default collectors export these from every pairflow process.
CLIENT_PREFIXES = ("process_", "python_")
_STRIP = (
    re.compile(r'"(?:[^"\\]|\\.)*"'),  # strings (label values, arguments)
    re.compile(r"\{[^}]*\}"),  # label matchers
    re.compile(r"\[[^\]]*\]"),  # range and subquery durations
    re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"),  # label lists
)
_IDENTIFIER = re.compile(r"\b([a-zA-Z_:][\w:]*)\b(?!\s*\()")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
                       "group_right", "inf", "nan", "Inf", "NaN"})


def tool(name: str) -> str:
    """Return the path of a Prometheus tool (promtool, amtool, prometheus); fail naming the package otherwise."""
    found = shutil.which(name) or shutil.which(f"prometheus-{name}")
    if found is None:
        raise AssertionError(f"{name} is not installed; scripts/setup.sh installs Debian's prometheus packages")
    return found


def run_tool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a Prometheus tool and return its result (output captured as text)."""
    return subprocess.run([tool(args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=60)


def unknown_metrics(expr: str) -> list[str]:
    """Return the ``pairflow_*`` series an expression names that no catalogue metric exports.

    >>> unknown_metrics('rate(pairflow_storage_rows_written_total[5m]) > pairflow_nope')
    ['pairflow_nope']
    """
    return sorted(name for name in series_names(expr) if name.startswith("pairflow_") and spec_of_series(name) is None)


def series_names(expr: str) -> set[str]:
    """Return every series name a PromQL expression selects (functions, keywords and labels left out).

    >>> sorted(series_names('sum by (table) (rate(pairflow_x_total{table="a"}[5m])) / on (job) up > 0'))
    ['pairflow_x_total', 'up']
    """
    for pattern in _STRIP:
        expr = pattern.sub(" ", expr)
    expr = re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", " ", expr)
    return {name for name in _IDENTIFIER.findall(expr) if name not in _KEYWORDS}


def foreign_series(expr: str) -> list[str]:
    """Return series an expression selects that neither pairflow, its client library nor Prometheus exports."""
    return sorted(
        name for name in series_names(expr)
        if not name.startswith(("pairflow_", *CLIENT_PREFIXES)) and name not in PROMETHEUS_SERIES
    )


def catalogue_names(expr: str) -> set[str]:
    """Return the catalogue metric names an expression uses."""
    return {spec.name for name in series_names(expr) if (spec := spec_of_series(name)) is not None}


def rule_expressions(path: Path) -> list[tuple[str, str]]:
    """Return ``(alert, expr)`` of every rule in a rules file (single-line or ``|`` block expressions)."""
    rules: list[tuple[str, str]] = []
    lines = path.read_text().splitlines()
    alert = ""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("- alert:", "- record:")):
            alert = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("expr:"):
            value = stripped.split(":", 1)[1].strip()
            if value == "|":
                indent = len(line) - len(line.lstrip())
                block = []
                for following in lines[index + 1 :]:
                    if following.strip() and len(following) - len(following.lstrip()) <= indent:
                        break
                    block.append(following.strip())
                value = " ".join(part for part in block if part)
            rules.append((alert, value))
    return rules


__all__ = [
    "ALERTMANAGER_DIR",
    "alertmanager",
    "wait_http",
    "CATALOGUE",
    "PROMETHEUS_DIR",
    "PROMETHEUS_SERIES",
    "ROOT",
    "catalogue_names",
    "foreign_series",
    "rule_expressions",
    "run_tool",
    "series_names",
    "tool",
    "unknown_metrics",
]


def wait_http(url: str, timeout_s: float = 20.0) -> None:
    """Wait until ``url`` answers HTTP 200."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not come up within {timeout_s} s") from None
        time.sleep(0.1)


@contextmanager
def alertmanager(port: int, workdir: Path) -> Iterator[str]:
    """Run Debian's Alertmanager on ``port`` (one webhook receiver, no cluster) and yield its URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: sink\nreceivers:\n  - name: sink\n    webhook_configs:\n"
        "      - url: http://127.0.0.1:9/unused\n"
    )
    url = f"http://127.0.0.1:{port}"
    with open(workdir / "alertmanager.log", "ab") as log:
        process = subprocess.Popen(
            [tool("alertmanager"), f"--config.file={config}", f"--storage.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=log, stderr=log,
        )
        try:
            wait_http(f"{url}/-/ready")
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)
