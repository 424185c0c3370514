"""Risk metrics, alerts and logs over the API: a page from ``since`` on, narrowed to one value of a column.

The three endpoints are made by one factory (`api.reads`), so this checks each
one's own column, table and order on rows written to a chDB store, and that any
value of the column either narrows the page or is refused with a 422.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.auth import TokenGuard
from api.context import ApiContext
from pairflow.config import Settings, StorageSettings
from pairflow.events import Alert, LogRecord, RiskMetric
from pairflow.storage import TABLE_OF_EVENT, BatchWriter, connect

# Each row's message (risk: scope) names it, as risk and log rows carry no id over the API.
ROWS = [
    RiskMetric(id="r1", ts=1_000, metric="var_hist", value=0.02, confidence=0.99, scope="r1"),
    RiskMetric(id="r2", ts=2_000, metric="es_hist", value=0.03, confidence=0.99, scope="r2"),
    RiskMetric(id="r3", ts=3_000, metric="var_hist", value=0.04, confidence=0.99, scope="r3"),
    Alert(id="a1", ts=1_000, severity="warning", source="risk", message="a1"),
    Alert(id="a2", ts=2_000, severity="critical", source="risk", message="a2"),
    Alert(id="a3", ts=3_000, severity="warning", source="desk", message="a3"),
    LogRecord(id="l1", ts=1_000, level="INFO", logger="desk", message="l1"),
    LogRecord(id="l2", ts=3_000, level="ERROR", logger="router", message="l2"),
    LogRecord(id="l3", ts=3_000, level="ERROR", logger="desk", message="l3"),
]
ENDPOINTS = {"risk": "metric", "alerts": "severity", "logs": "level"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("narrowed")
    store = connect(StorageSettings(dsn=f"chdb://{folder}/db", spill_dir=folder / "spill"))
    store.init_schema()
    for kind in (RiskMetric, Alert, LogRecord):
        with BatchWriter(store, TABLE_OF_EVENT[kind], background=False) as writer:
            writer.add_many([row for row in ROWS if isinstance(row, kind)])
    context = ApiContext(store=store, settings=Settings(), guard=TokenGuard("n" * 24))
    with TestClient(create_app(context)) as opened:
        yield opened
    store.close()


def names(client: TestClient, path: str, **params: object) -> list[str]:
    answer = client.get(f"/api/{path}", params=params)
    assert answer.status_code == 200, answer.text
    return [row["scope" if path == "risk" else "message"] for row in answer.json()["items"]]


def test_each_endpoint_narrows_by_its_own_column_newest_first(client: TestClient) -> None:
    assert names(client, "risk") == ["r3", "r2", "r1"]
    assert names(client, "risk", metric="var_hist") == ["r3", "r1"]
    assert names(client, "alerts", severity="warning") == ["a3", "a1"]
    assert names(client, "alerts", severity="warning", since=2_000) == ["a3"]
    assert names(client, "logs", level="ERROR") == ["l3", "l2"]  # same time: by logger
    assert names(client, "logs", since=2_000, limit=1, offset=1) == ["l2"]
    assert names(client, "risk", severity="critical") == ["r3", "r2", "r1"]  # another endpoint's column is ignored


@settings(max_examples=40, deadline=None)
@given(path=st.sampled_from(sorted(ENDPOINTS)), value=st.text(max_size=80))
def test_any_value_of_the_column_narrows_the_page_or_is_a_422(client: TestClient, path: str, value: str) -> None:
    column = ENDPOINTS[path]
    answer = client.get(f"/api/{path}", params={column: value})
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 200:
        assert all(row[column] == value for row in answer.json()["items"])
    else:
        assert answer.json()["detail"]
