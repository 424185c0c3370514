"""Write the dashboards as Grafana JSON plus the provisioning files Grafana imports them with.

Layout of the export directory::

    dashboards/<uid>.json                  one dashboard model per file
    provisioning/datasources/pairflow.yaml the Prometheus and ClickHouse data sources (fixed UIDs)
    provisioning/dashboards/pairflow.yaml  a file provider pointing at dashboards/

The provisioning documents are written as JSON, which is YAML too, so no YAML
library is needed to write them and Grafana reads them as they are. Each file
is replaced atomically (`pairflow.durable_file`): Grafana rereads the folder
every 30 s and must never load a half-written dashboard over a good one.
"""

from __future__ import annotations

import json
from pathlib import Path

from grafanalib._gen import DashboardEncoder
from grafanalib.core import Dashboard

from dashboards import execution, market_data, risk, strategy, system
from dashboards.datasources import ClickHouseAccess, datasource_provisioning
from pairflow.durable_file import write_bytes

__all__ = ["all_dashboards", "dashboard_json", "export"]


def all_dashboards() -> list[Dashboard]:
    """Return every pairflow dashboard."""
    return [module.dashboard() for module in (market_data, strategy, execution, risk, system)]


# Keys grafanalib still writes from Grafana's pre-schema JSON that the dashboard schema of our
# schemaVersion no longer has (Grafana ignores them on import): left out, so the exported model is
# exactly Grafana's (tests/observability/test_dashboards.py decodes it with Grafana's generated types).
_PRE_SCHEMA_KEYS = {
    "dashboard": frozenset({"__inputs", "hideControls", "rows", "sharedCrosshair", "style"}),
    "timepicker": frozenset({"time_options"}),
    "panel": frozenset({"editable", "error"}),
    "table": frozenset({"color", "columns", "fontSize", "mappings"}),
    "prometheus": frozenset({"metric", "query", "step", "target"}),
}


def _without(document: dict, kind: str) -> dict:
    return {key: value for key, value in document.items() if key not in _PRE_SCHEMA_KEYS[kind]}


def dashboard_json(dashboard: Dashboard) -> dict:
    """Return the Grafana JSON model of ``dashboard``, without grafanalib's pre-schema keys."""
    model = _without(json.loads(json.dumps(dashboard.to_json_data(), cls=DashboardEncoder)), "dashboard")
    model["timepicker"] = _without(model["timepicker"], "timepicker")
    panels = []
    for panel in model["panels"]:
        panel = _without(panel, "panel")
        if panel["type"] == "table":
            panel = _without(panel, "table")
        panel["targets"] = [_without(target, "prometheus") if target["datasource"]["type"] == "prometheus" else target
                            for target in panel["targets"]]
        panels.append(panel)
    model["panels"] = panels
    return model


def export(
    directory: Path,
    prometheus_url: str = "http://127.0.0.1:9090",
    clickhouse: ClickHouseAccess | None = None,
    grafana_path: Path | None = None,
) -> list[Path]:
    """Write dashboards and provisioning under ``directory`` and return the files written.

    ``grafana_path`` is where Grafana will see the ``dashboards/`` folder
    (default: its absolute path here), e.g. a container mount point.
    """
    directory = Path(directory)
    boards = directory / "dashboards"
    boards.mkdir(parents=True, exist_ok=True)
    written = []
    for dashboard in all_dashboards():
        path = boards / f"{dashboard.uid}.json"
        write_bytes(path, (json.dumps(dashboard_json(dashboard), indent=2, sort_keys=True) + "\n").encode())
        written.append(path)
    provider = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "pairflow",
                "orgId": 1,
                "folder": "pairflow",
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": str(grafana_path or boards.resolve())},
            }
        ],
    }
    documents = {
        directory / "provisioning" / "datasources" / "pairflow.yaml": datasource_provisioning(
            prometheus_url, clickhouse or ClickHouseAccess()
        ),
        directory / "provisioning" / "dashboards" / "pairflow.yaml": provider,
    }
    for path, document in documents.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, (json.dumps(document, indent=2) + "\n").encode())
        written.append(path)
    return written
