"""Exported dashboards: Grafana's JSON model, datasource UIDs matching the provisioning, SQL kept in files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder as GrafanaJSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard as GrafanaDashboard
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from app.cli import app
from dashboards.panels import sql_path
from tests.observability.dashboard_targets import clickhouse_queries, prometheus_queries
from tests.observability.grafana_macros import expand_macros
from tests.observability.support import foreign_series, unknown_metrics

SQL_ROOT = sql_path("")
PANEL_TYPES = {"timeseries", "table", "stat", "gauge", "bargauge", "text", "row"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("grafana")
    result = CliRunner().invoke(app, ["dashboards", "export", str(directory), "--prometheus-url", "http://prom:9090",
                                      "--clickhouse-host", "ch", "--grafana-path", "/var/lib/grafana/pairflow"])
    assert result.exit_code == 0, result.output
    return directory


def test_export_into_a_file_or_an_uncreatable_directory_is_one_line(tmp_path: Path) -> None:
    """The grafana-provision service's command; these ended in mkdir's traceback."""
    (tmp_path / "a-file").write_text("")
    for target, reason in ((tmp_path / "a-file", "is a file, not a directory"), (Path("/proc/grafana"), "cannot be used")):
        result = CliRunner().invoke(app, ["dashboards", "export", str(target)])
        assert result.exit_code == 2 and f"DIRECTORY {target} {reason}" in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def _load(path: Path) -> dict:
    """Provisioning files are JSON, which Grafana's YAML reader accepts as is."""
    return json.loads(path.read_text())


def test_export_writes_five_dashboards_and_two_provisioning_files(exported):
    boards = sorted(path.name for path in (exported / "dashboards").glob("*.json"))
    assert boards == [f"pairflow-{name}.json" for name in ("execution", "market-data", "risk", "strategy", "system")]
    assert (exported / "provisioning" / "datasources" / "pairflow.yaml").exists()
    assert (exported / "provisioning" / "dashboards" / "pairflow.yaml").exists()


def test_provisioning_documents(exported):
    datasources = _load(exported / "provisioning" / "datasources" / "pairflow.yaml")
    assert datasources["apiVersion"] == 1
    by_type = {source["type"]: source for source in datasources["datasources"]}
    assert by_type["prometheus"]["url"] == "http://prom:9090"
    clickhouse = by_type["grafana-clickhouse-datasource"]
    assert clickhouse["jsonData"]["host"] == "ch" and clickhouse["jsonData"]["protocol"] == "native"
    assert clickhouse["secureJsonData"]["password"] == "$__env{PAIRFLOW_STORAGE__PASSWORD}"
    provider = _load(exported / "provisioning" / "dashboards" / "pairflow.yaml")["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"] == "/var/lib/grafana/pairflow"


def test_dashboards_follow_grafanas_json_model_and_use_provisioned_uids(exported):
    sources = {source["uid"]: source["type"] for source in
               _load(exported / "provisioning" / "datasources" / "pairflow.yaml")["datasources"]}
    uids = set()
    for path in sorted((exported / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        where = path.name
        assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36, where
        assert 1 <= len(board["uid"]) <= 40 and board["uid"] not in uids, where
        uids.add(board["uid"])
        assert board["title"] and board["id"] is None, where
        assert board["time"] == {"from": "now-1h", "to": "now"} and board["timezone"] == "utc", where
        assert isinstance(board["templating"]["list"], list) and isinstance(board["annotations"]["list"], list)
        assert board["panels"], where
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids), where
        cells: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            where = f"{path.name} / {panel['title']}"
            assert panel["type"] in PANEL_TYPES and panel["title"], where
            grid = panel["gridPos"]
            assert grid["w"] > 0 and grid["h"] > 0 and 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, where
            covered = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                       for y in range(grid["y"], grid["y"] + grid["h"])}
            assert not covered & cells, f"{where} overlaps another panel"
            cells |= covered
            assert panel["datasource"]["uid"] in sources, where
            refs = [target["refId"] for target in panel["targets"]]
            assert refs and len(refs) == len(set(refs)), where
            for target in panel["targets"]:
                source = target["datasource"]
                assert sources.get(source["uid"]) == source["type"], f"{where}: datasource {source} not provisioned"
                if source["type"] == "prometheus":
                    assert target["expr"], where
                else:
                    assert target["editorType"] == "sql" and target["rawSql"], where
                    assert (target["queryType"], target["format"]) in {("timeseries", 0), ("table", 1)}, where


def test_every_sql_file_is_a_panel_and_every_clickhouse_panel_reads_its_file():
    used = {query.sql_file for query in clickhouse_queries()}
    on_disk = {str(path.relative_to(SQL_ROOT)) for path in SQL_ROOT.rglob("*.sql")}
    assert used == on_disk
    for query in clickhouse_queries():
        assert query.query == (SQL_ROOT / query.sql_file).read_text().strip()


@given(start_s=st.integers(0, 4_000_000_000), span_s=st.integers(1, 10**8), interval_s=st.integers(0, 86_400))
def test_every_panel_sql_expands_to_plain_sql_for_any_range(start_s, span_s, interval_s):
    for query in clickhouse_queries():
        sql = expand_macros(query.query, start_s * 1000, (start_s + span_s) * 1000, interval_s)
        assert "$" not in sql, query.where()


def test_clickhouse_panels_read_deduplicated_views():
    """At-least-once tables are read through their *_v view (FINAL); only the append-only logs table is not."""
    for query in clickhouse_queries():
        tables = {word for word in query.query.replace("\n", " ").split() if word.endswith("_v")}
        assert tables or " logs" in query.query, query.where()
        assert "FINAL" not in query.query, query.where()


def test_prometheus_panels_read_only_catalogued_metrics():
    for query in prometheus_queries():
        assert not unknown_metrics(query.query), query.where()
        assert not foreign_series(query.query), query.where()


def _dropped(ours, theirs, path: str) -> list[str]:
    """Return the paths of non-null values in ``ours`` that Grafana's model did not keep, or changed."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return [lost for key, value in ours.items() if value is not None
                for lost in (_dropped(value, theirs[key], f"{path}/{key}") if key in theirs else [f"{path}/{key}"])]
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [lost for index, pair in enumerate(zip(ours, theirs)) for lost in _dropped(*pair, f"{path}[{index}]")]
    return [] if ours == theirs else [f"{path}: {ours!r} became {theirs!r}"]


def test_every_dashboard_field_survives_grafanas_own_dashboard_model(exported):
    """Decode each dashboard with Grafana's generated schema types (grafana-foundation-sdk, Grafana 11.6) and
    encode it back: every value we write must be one the schema knows and keeps, typed panel options and
    Prometheus queries included (ClickHouse queries are a plugin's, which the SDK keeps as they are)."""
    plugins.register_default_plugins()
    for path in sorted((exported / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        decoded = json.loads(json.dumps(GrafanaDashboard.from_json(board), cls=GrafanaJSONEncoder))
        lost = _dropped(board, decoded, "")
        assert not lost, f"{path.name}: Grafana's dashboard model drops or changes {lost}"


def test_a_field_grafanas_model_does_not_know_is_named(exported):
    plugins.register_default_plugins()
    board = json.loads((exported / "dashboards" / "pairflow-system.json").read_text())
    board["panels"][0]["fillOpacty"] = 10
    board["panels"][0]["targets"][0]["legendFormt"] = "{{job}}"
    decoded = json.loads(json.dumps(GrafanaDashboard.from_json(board), cls=GrafanaJSONEncoder))
    assert sorted(_dropped(board, decoded, "")) == ["/panels[0]/fillOpacty", "/panels[0]/targets[0]/legendFormt"]
