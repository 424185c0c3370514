"""Every panel query runs against real data: PromQL on a Prometheus scraping real pairflow processes, SQL on chDB.

A failure names the dashboard, the panel and the SQL file or PromQL expression.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from pairflow.config import StorageSettings
from pairflow.errors import PairflowError
from pairflow.events import Gap, Order, PairStats
from pairflow.metrics import CATALOGUE, spec_of_series
from pairflow.storage import BatchWriter, connect
from tests.broker import TansuBroker
from tests.observability.dashboard_targets import clickhouse_queries, prometheus_queries
from tests.observability.grafana_macros import expand_macros
from tests.observability.stack import ObservedRun, observed_run, prometheus_query
from tests.observability.support import PROMETHEUS_DIR, catalogue_names, rule_expressions

pytestmark = [pytest.mark.broker, pytest.mark.slow]

PENDING = {name for name, spec in CATALOGUE.items() if spec.pending}
# Labelled counters whose first series appears with an event a healthy run has only by chance.
EVENT_ONLY = {
    "pairflow_execution_orders_rejected": "an order is rejected only when its IOC finds no resting match",
    "pairflow_collector_gaps": "a gap needs a dropped stream; the run's streams do not drop",
    "pairflow_execution_reconciliation_mismatches": "a mismatch needs the venue to differ from our books",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, tansu_broker: TansuBroker):
    with observed_run(tmp_path_factory.mktemp("observed"), tansu_broker) as observed:
        yield observed


def test_every_promql_panel_returns_series_from_the_running_processes(run: ObservedRun):
    """Panels on metrics whose producer is not built yet (catalogue ``pending``) or that only an event creates
    (`EVENT_ONLY`) must run, not return data."""
    empty = []
    for query in prometheus_queries():
        try:
            data = prometheus_query(run.prometheus_url, query.query, run.eval_time)
        except AssertionError as error:
            raise AssertionError(f"{query.where()}: {error}") from None
        if not data["result"] and not catalogue_names(query.query) & (PENDING | set(EVENT_ONLY)):
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


# Tables the run does not write, with why; their panels are checked on rows written here through the same
# writer. Everything else the panels read comes from the run itself.
NOT_WRITTEN_BY_THE_RUN = {
    "pair_stats": "the demo's scan needs 50 one-minute candles, more than the run collects",
    "gaps": "a gap needs a dropped stream; the run's streams do not drop",
}


def _rows_the_run_does_not_write(now_ms: int) -> dict[str, list]:
    ts = [now_ms - 30_000 + step * 10_000 for step in range(4)]
    return {
        "pair_stats": [PairStats(id="scan-1", ts=ts[0], pair="ETH-SOL", coin_a="ETH", coin_b="SOL",
                                 window_start=ts[0] - 86_400_000, window_end=ts[0], correlation=0.93,
                                 hedge_ratio=1.21, eg_pvalue=0.004, half_life=3_600.0, hurst=0.31, qvalue=0.01,
                                 rank=1)],
        "gaps": [Gap(id="g1", ts=ts[0], coin="ETH", stream="trades", start_ts=ts[0] - 5_000, end_ts=ts[0],
                     filled=False, reason="reconnect")],
    }


def _rejected_order(now_ms: int) -> Order:
    """A healthy run rejects an order only by chance (an IOC order finding no resting match), so one is added."""
    return Order(id="o-test:rejected", ts=now_ms, coin="SOL", cloid="0xtest", oid=None, is_buy=False, sz=10.0,
                 limit_px=90.0, status="rejected", reason="price band")


def test_the_demos_own_alert_reached_alertmanager_and_its_log_line_the_logs_table(run: ObservedRun, tmp_path: Path):
    """The desk's VaR alert went desk -> alert sink -> Alertmanager, and its warning line into ClickHouse."""
    posted = [alert for alert in run.alertmanager_alerts if alert["labels"]["alertname"] == "PairflowRisk"]
    assert posted and posted[0]["labels"]["severity"] == "warning", run.alertmanager_alerts
    assert "99% VaR" in posted[0]["annotations"]["summary"]
    with connect(StorageSettings(dsn=f"chdb://{run.demo_chdb}", spill_dir=tmp_path / "spill")) as store:
        stored = store.query("SELECT count() FROM alerts_v WHERE source = 'risk' AND severity = 'warning'")[0][0]
        logged = store.query("SELECT count() FROM logs WHERE level = 'warning' AND message LIKE '99% VaR%'"
                             " AND logger = 'sinks.alerts'")[0][0]
    assert stored >= 1 and logged >= 1


def test_every_clickhouse_panel_returns_rows_from_the_run(run: ObservedRun, tmp_path: Path):
    settings = StorageSettings(dsn=f"chdb://{run.demo_chdb}", spill_dir=tmp_path / "spill")
    now_ms = int(time.time() * 1000)
    with connect(settings) as store:
        for table, rows in _rows_the_run_does_not_write(now_ms).items():
            assert store.count(table) == 0, (
                f"the run writes {table} now (no longer: {NOT_WRITTEN_BY_THE_RUN[table]}): drop its rows here")
            with BatchWriter(store, table, settings=settings, background=False) as writer:
                for row in rows:
                    writer.add(row)
        with BatchWriter(store, "orders", settings=settings, background=False) as writer:
            writer.add(_rejected_order(now_ms))
        empty = []
        for query in clickhouse_queries():
            # The demo's venue runs 30x faster than the wall clock, so its rows are stamped up to hours ahead.
            sql = expand_macros(query.query, run.started_ms - 3_600_000, now_ms + 86_400_000, interval_s=5)
            try:
                rows = store.query(sql)
            except PairflowError as error:
                raise AssertionError(f"{query.where()}\n{error}") from None
            if not rows:
                empty.append(query.where())
    assert not empty, "panels without rows:\n" + "\n".join(empty)


def test_pairflow_logs_finds_the_runs_own_warning_by_level_component_time_and_text(run: ObservedRun, tmp_path: Path):
    """The ELK role on a real run: the demo's processes mirrored their JSON lines into its chDB."""
    env = {"PAIRFLOW_STORAGE__DSN": f"chdb://{run.demo_chdb}", "PAIRFLOW_STORAGE__SPILL_DIR": str(tmp_path / "spill"),
           "NO_COLOR": "1", "COLUMNS": "300"}
    found = CliRunner().invoke(app, ["logs", "--level", "warning", "--component", "sinks", "--since", "1h",
                                     "--grep", "99% VaR"], env=env)
    assert found.exit_code == 0, found.output
    lines = [line for line in found.output.splitlines() if line.strip()]
    assert lines and all("WARNING" in line.upper() and "sinks.alerts" in line and "99% VaR" in line for line in lines)
    quiet = CliRunner().invoke(app, ["logs", "--level", "error", "--component", "sinks", "--grep", "99% VaR"], env=env)
    assert quiet.exit_code == 0 and "99% VaR" not in quiet.output


def test_every_catalogued_metric_a_rule_names_is_scraped_from_the_run(run: ObservedRun):
    """Rules page on series real processes export: each metric a rule names has series in the run's Prometheus,
    unless its producer is pending or its first series needs an event (a retry, a spill, a gap)."""
    scraped = {series["metric"]["__name__"] for series in prometheus_query(
        run.prometheus_url, 'count by (__name__) ({__name__=~"pairflow_.+"})', run.eval_time)["result"]}
    scraped_metrics = {spec.name for name in scraped if (spec := spec_of_series(name)) is not None}
    named = {name for path in (PROMETHEUS_DIR / "rules").glob("*.yml") for _, expr in rule_expressions(path)
             for name in catalogue_names(expr)}
    missing = sorted(named - scraped_metrics - PENDING - set(EVENT_ONLY))
    assert not missing, f"metrics alert rules use that no process of the run exported: {missing}"
