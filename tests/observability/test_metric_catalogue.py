"""The metric catalogue is the one list of what pairflow exports."""

from __future__ import annotations

import importlib
import pkgutil

from prometheus_client import REGISTRY

from pairflow.metrics import CATALOGUE, spec_of_series

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
