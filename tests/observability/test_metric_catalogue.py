"""The metric catalogue is the one list of what pairflow exports."""

from __future__ import annotations

import importlib
import pkgutil
import re

from prometheus_client import REGISTRY

from pairflow import metrics
from pairflow.metrics import CATALOGUE, spec_of_series
from tests.observability.support import ROOT

PACKAGES = ("pairflow", "operators", "sources", "sinks", "flows", "venue", "api", "dashboards", "app")


def _import_everything() -> None:
    for name in PACKAGES:
        try:
            package = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)


def test_every_registered_pairflow_metric_is_catalogued_as_defined():
    _import_everything()
    exported = {family.name: family for family in REGISTRY.collect() if family.name.startswith("pairflow_")}
    missing = sorted(set(exported) - set(CATALOGUE))
    assert not missing, f"metrics registered outside the catalogue (add them to pairflow/metrics.py): {missing}"
    for name, family in exported.items():
        spec = CATALOGUE[name]
        assert (family.type, family.documentation) == (spec.kind, spec.help), name


def test_series_names_map_back_to_their_metric():
    for spec in CATALOGUE.values():
        for series in spec.series_names():
            assert spec_of_series(series) is spec
    assert spec_of_series("pairflow_storage_rows_written") is None  # a counter is only exported with _total
    assert spec_of_series("pairflow_storage_flush_seconds_bucket").kind == "histogram"


def test_names_follow_the_convention():
    for name, spec in CATALOGUE.items():
        assert name.startswith("pairflow_") and name == name.lower(), name
        assert not name.endswith("_total"), f"{name}: counters get _total from prometheus_client"
        assert spec.help.endswith("."), f"{name}: help is a sentence"


_UPDATE = r"\s*\.\s*(?:labels|inc|dec|set|observe|set_to_current_time|set_function|time)\s*\("


def _catalogue_constants() -> dict[str, str]:
    """Map each catalogue metric's constant in pairflow/metrics.py to the metric name."""
    return {
        constant: value._name
        for constant, value in vars(metrics).items()
        if constant.isupper() and getattr(value, "_name", None) in CATALOGUE
    }


def _source_text() -> str:
    paths = [path for package in PACKAGES if (ROOT / package).is_dir() for path in (ROOT / package).rglob("*.py")]
    return "\n".join(path.read_text() for path in paths if path != ROOT / "pairflow" / "metrics.py")


def test_every_catalogued_metric_is_updated_by_code_and_pending_ones_are_not():
    """A static check: some module outside the catalogue calls an update (or labels) on each metric's constant.

    A metric marked pending is one whose producer is not built yet; once code
    updates it, the mark must go, so rules and dashboards start to require it.
    """
    source = _source_text()
    constants = _catalogue_constants()
    assert set(constants.values()) == set(CATALOGUE), "every catalogue entry has a constant in pairflow/metrics.py"
    for constant, name in constants.items():
        updated = re.search(rf"\b{constant}\b{_UPDATE}", source) is not None
        if CATALOGUE[name].pending:
            assert not updated, f"{name} is updated now: drop pending={CATALOGUE[name].pending!r} from the catalogue"
        else:
            assert updated, f"{name} ({constant}) is in the catalogue but no code path updates it"


def test_metrics_are_created_only_by_the_catalogue():
    source = _source_text()
    for kind in ("Counter", "Gauge", "Histogram", "Summary"):
        assert not re.search(rf"\b{kind}\(\s*[\"']", source), f"a prometheus_client {kind} is created outside pairflow/metrics.py"
