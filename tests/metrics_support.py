"""Read Prometheus metrics in tests: from a process's /metrics endpoint or from this process's registry."""

from __future__ import annotations

import re
import urllib.request

from prometheus_client import REGISTRY

_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][\w:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(port: int) -> str:
    """Return the text of ``http://127.0.0.1:<port>/metrics`` (raises OSError while nothing serves it)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
        return response.read().decode()


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum the samples of ``name`` in exposition ``text`` whose labels include ``labels`` (0 when none)."""
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match["name"] == name and labels.items() <= dict(_LABEL.findall(match["labels"] or "")).items():
            total += float(match["value"])
    return total


def metric(port: int, name: str, **labels: str) -> float:
    """Sum the samples of ``name`` with ``labels`` served on a /metrics endpoint."""
    return metric_sum(scrape(port), name, **labels)


def served_metric(port: int, name: str, **labels: str) -> float:
    """Like `metric`, but 0 while nothing serves the endpoint: a process polled while it starts or restarts."""
    try:
        return metric(port, name, **labels)
    except OSError:
        return 0.0


def sample(name: str, **labels: str) -> float:
    """Return a sample of this process's default registry (0 when it was never recorded)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
