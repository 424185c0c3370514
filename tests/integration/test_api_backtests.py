"""Backtests launched over the API: the real `pairflow backtest` run on a worker thread, progress on the stream, stored.

The store holds the golden two weeks of 1h bars and funding; a launch must
give the same trades hash as the command line, store the run with its
trades and equity curve, and refuse bad requests with a clear 4xx.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.auth import TokenGuard
from api.context import ApiContext
from app.runners.backtests import backtest_launcher
from pairflow.config import Settings
from pairflow.storage import BatchWriter, Store
from sources.history_files import read_history_file
from tests.integration.test_backtest import GOLDEN, GOLDEN_HASH, GOLDEN_STRATEGY

TOKEN = "b" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SPREADS = ["ETH/SOL", "BTC/ETH", "BTC/SOL"]


@pytest.fixture
def recorded(store: Store) -> Store:
    for path in GOLDEN:
        history = read_history_file(path)
        with BatchWriter(store, history.kind, background=False) as writer:
            writer.add_many(history.events)
    return store


def client_for(store: Store, launches: bool = True, reports: Path | None = None) -> TestClient:
    configured = Settings()
    for name, value in GOLDEN_STRATEGY.items():
        setattr(configured.strategy, name, value)
    ctx = ApiContext(store=store, settings=configured, guard=TokenGuard(TOKEN), poll_s=0.2,
                     launch_backtest=backtest_launcher(configured, store, reports) if launches else None,
                     reports_dir=reports)
    return TestClient(create_app(ctx))


def launch(client: TestClient, **body: object) -> dict:
    answer = client.post("/api/controls/backtest", json={"name": "golden", **body}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    return answer.json()


def finished(client: TestClient, job_id: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = next(job for job in client.get("/api/backtest-jobs").json() if job["id"] == job_id)
        if job["status"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError(f"backtest job {job_id} still running after {timeout_s} s")


def test_a_launched_backtest_runs_the_real_backtest_streams_progress_and_stores_the_run(recorded: Store,
                                                                                        tmp_path: Path) -> None:
    with client_for(recorded, reports=tmp_path / "reports") as client, client.websocket_connect("/api/ws?topics=backtests") as stream:
        job = launch(client, spreads=SPREADS, interval="1h")
        assert job["status"] == "running" and job["run_id"] == ""
        busy = client.post("/api/controls/backtest", json={"name": "second"}, headers=AUTH)
        assert busy.status_code == 409 and "already running" in busy.json()["detail"]
        updates = []
        while not updates or updates[-1]["status"] == "running":
            message = stream.receive_json()
            assert message["topic"] == "backtests"
            updates += [row for row in message["rows"] if row["id"] == job["id"]]
        done = updates[-1]
        assert done["status"] == "done" and done["error"] == "" and done["done"] == done["total"] > 0
        assert any(row["status"] == "running" and row["total"] == done["total"] for row in updates)

        run = client.get(f"/api/backtests/{done['run_id']}").json()
        assert run["name"] == "golden" and run["status"] == "done"
        ((trades_hash,),) = recorded.query("SELECT trades_hash FROM backtest_runs FINAL WHERE id = {r:String}",
                                           {"r": done["run_id"]})
        assert trades_hash == GOLDEN_HASH  # the command line's golden run, launched from the API
        equity = client.get(f"/api/backtests/{done['run_id']}/equity").json()
        assert 100 < len(equity) <= 2000 and all(point["drawdown"] <= 0 for point in equity)
        assert equity[-1]["equity"] == pytest.approx(Settings().execution.capital_usd + run["total_pnl"], abs=1e-6)
        assert min(point["drawdown"] for point in equity) < 0
        trades = client.get(f"/api/backtests/{done['run_id']}/trades", params={"limit": 1000}).json()
        fills = [row for row in trades["items"] if row["kind"] == "fill"]
        assert len(fills) == run["trades"] and {row["pair"] for row in fills} <= set(SPREADS)
        assert [row["ts"] for row in trades["items"]] == sorted(row["ts"] for row in trades["items"])
        report = client.get(f"/api/backtests/{done['run_id']}/report")
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
        assert f"pairflow backtest {done['run_id']}: golden" in report.text
        audit = client.get("/api/audit", params={"limit": 2}).json()["items"]
        assert [(row["action"], row["outcome"]) for row in audit] == [("backtest", "refused"), ("backtest", "ok")]


def test_a_launch_that_cannot_run_fails_with_its_reason_and_bad_requests_get_a_4xx(recorded: Store) -> None:
    with client_for(recorded) as client:
        failed = finished(client, launch(client, spreads=["ETH/NOPE"], interval="1h")["id"])
        assert failed["status"] == "failed" and "NOPE" in failed["error"] and "\n" not in failed["error"]
        late = finished(client, launch(client, spreads=["ETH/SOL"], interval="1h", start="2031-01-01")["id"])
        assert late["status"] == "failed" and late["error"]
        for body in ({"name": ""}, {"name": "x", "spreads": ["ETH"]}, {"name": "x", "interval": "7s"},
                     {"name": "x", "start": "yesterday"}, {"name": "x", "mode": "magic"}, {"name": "x", "extra": 1}):
            assert client.post("/api/controls/backtest", json=body, headers=AUTH).status_code == 422, body
        assert client.post("/api/controls/backtest", json={"name": "x"}).status_code == 401
        for path in ("/api/backtests/nope/equity", "/api/backtests/nope/trades", "/api/backtests/nope/report"):
            assert client.get(path).status_code == 404
        assert client.get("/api/backtests/bad id!/equity").status_code == 422
        assert client.get("/api/health").status_code == 200  # the server went on


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12),
              st.sampled_from(["ETH/SOL", "1h", "2024-11-01", "spread", "next_open"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values, st.dictionaries(
    st.sampled_from(["name", "spreads", "start", "end", "interval", "mode", "fill", "x"]), json_values, max_size=5)))
def test_no_launch_body_makes_a_server_error(store: Store, body: object) -> None:
    with client_for(store, launches=False) as client:
        answer = client.post("/api/controls/backtest", json=body, headers=AUTH)
    assert answer.status_code in (422, 501), answer.text  # 501: valid, but this server has no launcher
