"""Every panel query runs against real data: PromQL on a Prometheus scraping real pairflow processes, SQL on chDB.

A failure names the dashboard, the panel and the SQL file or PromQL expression.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pairflow.config import StorageSettings
from pairflow.errors import PairflowError
from pairflow.events import Alert, Fill, Gap, LogRecord, Order, PairStats, Position, RiskMetric, Signal
from pairflow.metrics import CATALOGUE
from pairflow.storage import BatchWriter, connect
from tests.broker import TansuBroker
from tests.observability.dashboard_targets import clickhouse_queries, prometheus_queries
from tests.observability.grafana_macros import expand_macros
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


def _trading_rows(now_ms: int) -> dict[str, list]:
    """Rows the strategy, trader and risk stages will write (not in the demo yet), through the same writer."""
    ts = [now_ms - 30_000 + step * 10_000 for step in range(4)]
    signals = [
        Signal(id=f"sig-{pair}-{i}", ts=t, recv_ts=t, pair=pair, hedge_ratio=1.2 + i / 100, spread=0.01 * i,
               zscore=-2.0 + i, target=float(i % 2), reason="band", legs=tuple(pair.split("-")))
        for pair in ("ETH-SOL", "AAVE-UNI") for i, t in enumerate(ts)
    ]
    return {
        "signals": signals,
        "pair_stats": [PairStats(id="scan-1", ts=ts[0], pair="ETH-SOL", coin_a="ETH", coin_b="SOL",
                                 window_start=ts[0] - 86_400_000, window_end=ts[0], correlation=0.93,
                                 hedge_ratio=1.21, eg_pvalue=0.004, half_life=3_600.0, hurst=0.31, qvalue=0.01,
                                 rank=1)],
        "orders": [
            Order(id="o1:filled", ts=ts[1], coin="ETH", cloid="c1", oid=1, is_buy=True, sz=0.5, limit_px=2_100.0,
                  status="filled", filled_sz=0.5, avg_px=2_000.0),
            Order(id="o2:rejected", ts=ts[2], coin="SOL", cloid="c2", oid=None, is_buy=False, sz=10.0,
                  limit_px=90.0, status="rejected", reason="price band"),
        ],
        "fills": [Fill(id="f1", ts=now_ms, coin="ETH", oid=1, cloid="c1", px=2_000.0, sz=0.5, side="B", fee=0.35,
                       closed_pnl=0.0, crossed=True)],
        "positions": [Position(id=f"p-{t}", ts=t, coin="ETH", szi=0.5, entry_px=2_000.0, mark_px=2_001.0,
                               unrealized_pnl=0.5, margin_used=200.0, leverage=5.0) for t in ts],
        "pnl": [{"ts": t, "recv_ts": t, "id": f"pnl-{t}", "scope": "portfolio", "realized_pnl": 1.0 * i,
                 "unrealized_pnl": 0.5, "fees": -0.35, "funding": 0.0, "equity": 100_000.0 + 10 * (-1) ** i}
                for i, t in enumerate(ts)],
        "risk_metrics": [RiskMetric(id=f"var-{t}", ts=t, metric="var_hist", value=850.0, confidence=0.99,
                                    horizon="1d") for t in ts],
        "alerts": [Alert(id="a1", ts=ts[3], severity="critical", source="risk.drawdown", message="drawdown 6%")],
        "gaps": [Gap(id="g1", ts=ts[0], coin="ETH", stream="trades", start_ts=ts[0] - 5_000, end_ts=ts[0],
                     filled=False, reason="reconnect")],
        "logs": [LogRecord(id="l1", ts=ts[3], level="error", logger="sinks.kafka", message="broker down",
                           fields='{"attempt": 3}')],
    }


def test_every_clickhouse_panel_returns_rows_from_the_run(run: ObservedRun, tmp_path: Path):
    settings = StorageSettings(dsn=f"chdb://{run.demo_chdb}", spill_dir=tmp_path / "spill")
    now_ms = int(time.time() * 1000)
    with connect(settings) as store:
        for table, rows in _trading_rows(now_ms).items():
            with BatchWriter(store, table, settings=settings, background=False) as writer:
                for row in rows:
                    writer.add(row)
        empty = []
        for query in clickhouse_queries():
            sql = expand_macros(query.query, run.started_ms - 3_600_000, now_ms + 60_000, interval_s=5)
            try:
                rows = store.query(sql)
            except PairflowError as error:
                raise AssertionError(f"{query.where()}\n{error}") from None
            if not rows:
                empty.append(query.where())
    assert not empty, "panels without rows:\n" + "\n".join(empty)
