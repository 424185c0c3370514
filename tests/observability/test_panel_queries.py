"""Every panel query runs against real data: PromQL on a Prometheus scraping real pairflow processes, SQL on chDB.

A failure names the dashboard, the panel and the SQL file or PromQL expression.
"""

from __future__ import annotations

import pytest

from pairflow.metrics import CATALOGUE
from tests.broker import TansuBroker
from tests.observability.dashboard_targets import prometheus_queries
from tests.observability.stack import ObservedRun, observed_run, prometheus_query
from tests.observability.support import PROMETHEUS_DIR, catalogue_names, rule_expressions

pytestmark = [pytest.mark.broker, pytest.mark.slow]

PENDING = {name for name, spec in CATALOGUE.items() if spec.pending}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, tansu_broker: TansuBroker):
    with observed_run(tmp_path_factory.mktemp("observed"), tansu_broker) as observed:
        yield observed


def test_every_promql_panel_returns_series_from_the_running_processes(run: ObservedRun):
    """Panels on metrics whose producer is not built yet (catalogue ``pending``) must run, not return data."""
    empty = []
    for query in prometheus_queries():
        try:
            data = prometheus_query(run.prometheus_url, query.query, run.eval_time)
        except AssertionError as error:
            raise AssertionError(f"{query.where()}: {error}") from None
        if not data["result"] and not catalogue_names(query.query) & PENDING:
            empty.append(query.where())
    assert not empty, "panels without series:\n" + "\n".join(empty)


def test_every_shipped_rule_loads_and_evaluates_healthy(run: ObservedRun):
    shipped = {alert for path in (PROMETHEUS_DIR / "rules").glob("*.yml") for alert, _ in rule_expressions(path)}
    loaded = {rule["name"]: rule for rule in run.rules}
    assert set(loaded) == shipped
    unhealthy = {name: rule.get("lastError") for name, rule in loaded.items() if rule["health"] != "ok"}
    assert not unhealthy


def test_healthy_processes_fire_no_alert(run: ObservedRun):
    firing = prometheus_query(run.prometheus_url, 'ALERTS{alertstate="firing"}', run.eval_time)["result"]
    assert [series["metric"]["alertname"] for series in firing] == []

