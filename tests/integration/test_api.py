"""The API on a real demo: live over HTTP/WebSocket while it runs, then every endpoint on the data it stored.

The first tests talk to the demo's own server (the API it serves in-process);
the rest open the chDB directory the demo left and serve it with a
TestClient, so each endpoint is checked on real spreads and signals.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenGuard
from api.context import ApiContext
from app.commands.demo import scan_at_start
from pairflow.config import Settings, StorageSettings
from pairflow.pause_file import PAUSE_FILE, read_pause
from pairflow.storage import Store, connect
from tests.integration.api_support import DemoRun, served_api
from tests.integration.ingest_support import start_pairflow, stop_ingest

TOKEN = "t" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def ws_url(run: DemoRun, topics: str) -> str:
    return run.url.replace("http", "ws", 1) + f"/api/ws?topics={topics}"


async def collect(url: str, seconds: float) -> list[tuple[str, dict]]:
    """Return ``(topic, row)`` of every row streamed to ``url`` within ``seconds``."""
    rows: list[tuple[str, dict]] = []
    async with websockets.connect(url) as socket:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
            except TimeoutError:
                break
            rows += [(message["topic"], row) for row in message["rows"]]
    return rows


# Orders and alerts streamed while entries were paused, checked against the store once the demo ended.
PAUSED: dict[str, list[dict]] = {}


def test_demo_serves_the_api_and_streams_signals_as_they_are_stored(api_demo: DemoRun) -> None:
    health = httpx.get(f"{api_demo.url}/api/health", timeout=10).json()
    assert health["status"] == "ok" and health["store_ok"]
    rows = [row for _, row in asyncio.run(collect(ws_url(api_demo, "signals"), 20))]
    assert rows, "no signal was streamed within 20 s"
    assert {"ts", "pair", "zscore", "hedge_ratio", "reason", "legs"} <= set(rows[0])
    assert {row["pair"] for row in rows} <= {"ETH/SOL", "AAVE/UNI"}


def test_pausing_entries_in_the_demo_refuses_entries_while_exits_go_on(api_demo: DemoRun) -> None:
    auth = {"Authorization": f"Bearer {api_demo.token}"}
    assert httpx.post(f"{api_demo.url}/api/controls/pause", timeout=10).status_code == 401
    answer = httpx.post(f"{api_demo.url}/api/controls/pause", headers=auth, timeout=10)
    assert answer.status_code == 200 and answer.json()["controls"]["entries_paused"] is True
    time.sleep(1.0)  # orders of signals that passed the desk before the pause may still be stored
    rows = asyncio.run(collect(ws_url(api_demo, "orders,alerts"), 10))
    assert httpx.post(f"{api_demo.url}/api/controls/resume", headers=auth, timeout=10).status_code == 200
    PAUSED["orders"] = [row for topic, row in rows if topic == "orders"]
    refusals = [row for topic, row in rows if topic == "alerts" and "paused by the operator" in row["message"]]
    assert refusals, "no entry signal reached the desk in 10 s of a paused demo (300 simulated seconds)"


def test_a_parameter_change_retunes_the_running_demo_without_a_restart(api_demo: DemoRun) -> None:
    auth = {"Authorization": f"Bearer {api_demo.token}"}
    configured = httpx.get(f"{api_demo.url}/api/config", timeout=10).json()["strategy"]
    unreachable = {"entry_z": 19.0, "stop_z": 40.0}
    changed = httpx.post(f"{api_demo.url}/api/controls/params", json=unreachable, headers=auth, timeout=10)
    assert changed.status_code == 200 and changed.json()["entry_z"] == 19.0
    time.sleep(2.0)  # signals decided before the change may still be on their way to the store
    try:
        rows = [row for _, row in asyncio.run(collect(ws_url(api_demo, "signals"), 10))]
    finally:
        back = {name: configured[name] for name in unreachable}
        assert httpx.post(f"{api_demo.url}/api/controls/params", json=back, headers=auth, timeout=10).status_code == 200
    assert rows, "the spreads stopped deciding after the change"
    assert [row for row in rows if row["reason"].startswith("entry")] == [], "an entry inside a 19-sigma band"
    audit = httpx.get(f"{api_demo.url}/api/audit", params={"limit": 2}, timeout=10).json()["items"]
    assert [(row["action"], json.loads(row["detail"])) for row in audit] == [("params", back), ("params", unreachable)]


def test_halt_in_the_demo_stops_every_order_and_flatten_still_works(api_demo: DemoRun) -> None:
    auth = {"Authorization": f"Bearer {api_demo.token}"}
    post = lambda action, **body: httpx.post(f"{api_demo.url}/api/controls/{action}", json=body or None,  # noqa: E731
                                             headers=auth, timeout=10)
    assert post("halt").status_code == 422  # a kill switch needs {"confirm": true}
    assert post("halt", confirm=True).json()["controls"]["halted"] is True
    kept = read_pause(api_demo.data_dir / PAUSE_FILE)  # what a restart of the demo would start from
    assert kept is not None and (kept.reason, kept.halted) == ("halted by the operator", True)
    time.sleep(2.0)  # the halt's own flatten goes out on the desk's next batch
    try:
        rows = asyncio.run(collect(ws_url(api_demo, "orders,alerts"), 10))
        flattened = post("flatten", confirm=True).json()["controls"]
    finally:
        assert post("resume").json()["controls"] == {**flattened, "entries_paused": False, "halted": False,
                                                     "pause_reason": ""}
    assert flattened["pause_reason"] == "halted by the operator"  # a flatten during a halt leaves it halted
    assert not (api_demo.data_dir / PAUSE_FILE).exists()  # resumed: a restart of the demo would not be paused
    assert [row for topic, row in rows if topic == "orders"] == [], "an order went out while halted"
    refusals = [row for topic, row in rows if topic == "alerts" and "halted by the operator" in row["message"]]
    assert refusals, "no signal reached the halted desk in 10 s (300 simulated seconds)"
    assert flattened["halted"] is True  # a flatten during a halt is accepted and keeps the halt


def test_a_stream_of_an_unknown_topic_is_refused_with_the_reason(api_demo: DemoRun) -> None:
    async def close_of() -> websockets.frames.Close:
        async with websockets.connect(ws_url(api_demo, "signals,nope")) as client:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(client.recv(), 5)
        return closed.value.rcvd

    closed = asyncio.run(close_of())
    assert closed.code == 1008 and closed.reason.startswith("choose topics from ") and closed.reason.endswith("nope")


# ---- every endpoint on the data the demo stored ----


@pytest.fixture(scope="module")
def stored(api_demo: DemoRun) -> Iterator[Store]:
    api_demo.stop_once_stored("signals", "fills", "pnl")
    store = connect(StorageSettings(dsn=f"chdb://{api_demo.data_dir / 'chdb'}", spill_dir=api_demo.data_dir / "spill"))
    store.init_schema()
    yield store
    store.close()


def make_client(store: Store, *, reads_need_token: bool = False, scan: bool = False, queue: int = 256) -> TestClient:
    settings = Settings()
    settings.storage.password = "hunter2-secret"  # type: ignore[assignment]
    settings.secrets.api_token = TOKEN  # type: ignore[assignment]
    ctx = ApiContext(store=store, settings=settings, guard=TokenGuard(TOKEN, reads_need_token=reads_need_token),
                     run_scan=(lambda: scan_at_start(store, settings)) if scan else None, ws_queue_size=queue, poll_s=0.2)
    return TestClient(create_app(ctx))


@pytest.fixture(scope="module")
def client(stored: Store) -> Iterator[TestClient]:
    with make_client(stored, scan=True) as opened:
        yield opened


def test_orders_sent_while_paused_only_reduced_positions(stored: Store) -> None:
    cloids = [row["cloid"] for row in PAUSED.get("orders", [])]
    fills = stored.select("fills", "coin, side, sz, start_position", "cloid IN {c:Array(String)}", {"c": cloids})
    for fill in fills:
        signed = fill["sz"] if fill["side"] == "B" else -fill["sz"]
        assert fill["start_position"] * signed < 0 and abs(signed) <= abs(fill["start_position"]) + 1e-9, fill


def test_health_counts_the_stored_rows(client: TestClient, stored: Store) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["tables"]["signals"] == stored.count("signals") > 0
    assert body["tables"]["orders"] == stored.count("orders")


def test_config_is_the_effective_one_with_secrets_redacted(client: TestClient) -> None:
    response = client.get("/api/config")
    assert response.status_code == 200
    assert TOKEN not in response.text and "hunter2" not in response.text
    body = response.json()
    assert body["secrets"]["api_token"] == "<redacted>" and body["storage"]["password"] == "<redacted>"
    assert body["strategy"]["entry_z"] == Settings().strategy.entry_z


def test_spreads_list_the_latest_state_of_each_spread_with_its_recent_zscores(client: TestClient, stored: Store) -> None:
    spreads = client.get("/api/spreads").json()
    assert [spread["pair"] for spread in spreads] == sorted(
        pair for (pair,) in stored.query("SELECT DISTINCT pair FROM signals_v")
    )
    for spread in spreads:
        (latest,) = stored.query_dicts(
            "SELECT ts, zscore, hedge_ratio, count() OVER () AS n FROM signals_v WHERE pair = {p:String}"
            " ORDER BY ts DESC LIMIT 1", {"p": spread["pair"]})
        assert (spread["ts"], spread["zscore"], spread["hedge_ratio"]) == (latest["ts"], latest["zscore"], latest["hedge_ratio"])
        assert spread["signals"] == latest["n"] and spread["legs"] == spread["pair"].split("/")
        assert spread["recent_z"][-1] == spread["zscore"] and len(spread["recent_z"]) == min(60, latest["n"])


def test_a_spread_detail_holds_its_series_its_legs_prices_and_fills(client: TestClient) -> None:
    pair = client.get("/api/spreads").json()[0]["pair"]
    detail = client.get(f"/api/spreads/{pair}", params={"points": 10}).json()
    series = detail["series"]
    assert detail["state"]["pair"] == pair and 0 < len(series) <= 10
    assert [row["ts"] for row in series] == sorted(row["ts"] for row in series)
    assert series[-1]["ts"] == detail["state"]["ts"]
    assert {bar["coin"] for bar in detail["legs"]} == set(pair.split("/"))
    assert all(series[0]["ts"] <= bar["ts"] <= series[-1]["ts"] for bar in detail["legs"])
    assert isinstance(detail["fills"], list)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/spreads/BTC/NOPE", 404),
        ("/api/spreads/ETH", 422),
        ("/api/spreads/ETH/SOL;DROP", 422),
        ("/api/spreads/ETH/SOL?points=1", 422),
        ("/api/signals?limit=0", 422),
        ("/api/signals?limit=100000", 422),
        ("/api/signals?offset=-1", 422),
        ("/api/signals?since=abc", 422),
        ("/api/orders?coin=ETH'--", 422),
        ("/api/logs?level=LOUD", 422),
        ("/api/backtests/nope", 404),
        ("/api/backtests/a%20b", 422),
        ("/api/nothing", 404),
    ],
)
def test_bad_reads_get_a_clear_4xx(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_signals_page_through_the_store_newest_first(client: TestClient, stored: Store) -> None:
    first = client.get("/api/signals", params={"limit": 5}).json()
    second = client.get("/api/signals", params={"limit": 5, "offset": 5}).json()
    assert first["total"] == second["total"] == stored.count("signals")
    ids = [row["id"] for row in first["items"] + second["items"]]
    assert len(set(ids)) == 10
    times = [row["ts"] for row in first["items"] + second["items"]]
    assert times == sorted(times, reverse=True)
    pair = first["items"][0]["pair"]
    only = client.get("/api/signals", params={"pair": pair, "since": times[-1]}).json()
    assert only["items"] and {row["pair"] for row in only["items"]} == {pair}
    assert all(row["ts"] >= times[-1] for row in only["items"])


@pytest.mark.parametrize("table", ["orders", "fills", "positions", "risk", "alerts", "logs", "backtests", "audit"])
def test_trading_and_operations_tables_answer_pages_even_when_empty(client: TestClient, stored: Store, table: str) -> None:
    stored_table = {"risk": "risk_metrics", "backtests": "backtest_runs", "audit": "control_audit"}.get(table, table)
    body = client.get(f"/api/{table}", params={"limit": 3}).json()
    assert body["limit"] == 3 and body["offset"] == 0
    assert body["total"] == stored.count(stored_table) and len(body["items"]) == min(3, body["total"])


def test_fills_carry_their_slippage_against_the_last_quote(client: TestClient, stored: Store) -> None:
    fills = client.get("/api/fills", params={"limit": 20}).json()["items"]
    assert fills and len(fills) == min(20, stored.count("fills"))
    for fill in fills:
        (quote,) = stored.query_dicts(
            "SELECT bid_px, ask_px FROM bbo_v WHERE coin = {c:String} AND ts <= {t:Int64} ORDER BY ts DESC LIMIT 1",
            {"c": fill["coin"], "t": fill["ts"]})
        mid = (quote["bid_px"] + quote["ask_px"]) / 2
        expected = (fill["px"] / mid - 1) * 1e4 * (1 if fill["side"] == "B" else -1)
        assert fill["slippage_bps"] == pytest.approx(expected, abs=1e-6)


def test_exposure_nets_the_fills_per_coin(client: TestClient, stored: Store) -> None:
    exposure = {row["coin"]: row for row in client.get("/api/exposure").json()}
    for coin, side, sz in stored.query("SELECT coin, side, sz FROM fills_v"):
        exposure[coin]["szi"] -= sz if side == "B" else -sz
    assert all(abs(row["szi"]) < 1e-9 and row["mark_px"] > 0 for row in exposure.values())


def test_pnl_is_a_series_in_time_order(client: TestClient, stored: Store) -> None:
    body = client.get("/api/pnl", params={"limit": 50}).json()
    assert body["total"] == stored.count("pnl", "scope = 'portfolio'") > 0 and len(body["items"]) == min(50, body["total"])
    assert {row["scope"] for row in body["items"]} == {"portfolio"}
    assert [row["ts"] for row in body["items"]] == sorted(row["ts"] for row in body["items"])


def test_scan_reads_the_newest_scan_and_a_scan_can_be_run(client: TestClient) -> None:
    ran = client.post("/api/controls/scan", headers=AUTH)
    assert ran.status_code == 200 and ran.json()["detail"].startswith("scan")
    body = client.get("/api/scan").json()
    assert body["total"] == len(body["items"]) or body["total"] > len(body["items"])
    assert len({row["scan_id"] for row in body["items"]}) <= 1


def test_state_changes_need_the_token(stored: Store) -> None:
    with make_client(stored) as fresh:
        for path in ("/api/controls/pause", "/api/controls/resume", "/api/controls/scan"):
            assert fresh.post(path).status_code == 401
            assert fresh.post(path, headers={"Authorization": "Bearer wrong-token-of-some-length"}).status_code == 401
        assert fresh.post("/api/controls/flatten", json={"confirm": True}, headers={"Authorization": TOKEN}).status_code == 401
        assert fresh.get("/api/health").json()["controls"] == {"entries_paused": False, "halted": False, "flatten_requests": 0,
                                                               "pause_reason": ""}


def test_failed_tokens_are_rate_limited_per_client(stored: Store) -> None:
    with make_client(stored) as fresh:
        for _ in range(10):
            assert fresh.post("/api/controls/pause", headers={"Authorization": "Bearer guess"}).status_code == 401
        limited = fresh.post("/api/controls/pause", headers=AUTH)
        assert limited.status_code == 429 and "too many" in limited.json()["detail"]
        assert fresh.get("/api/health").json()["controls"]["entries_paused"] is False


def test_reads_need_the_token_when_configured(stored: Store) -> None:
    with make_client(stored, reads_need_token=True) as closed:
        assert closed.get("/api/spreads").status_code == 401
        assert closed.get("/api/spreads", headers=AUTH).status_code == 200
        assert closed.get("/api/spreads", params={"token": TOKEN}).status_code == 200
        assert closed.get("/api/spreads", params={"token": "guess" * 4}).status_code == 401
        with pytest.raises(Exception), closed.websocket_connect("/api/ws?topics=signals") as socket:
            socket.receive_text()
        with closed.websocket_connect(f"/api/ws?topics=signals&token={TOKEN}"):
            pass


def test_controls_pause_resume_flatten_halt_and_their_audit(stored: Store) -> None:
    with make_client(stored) as fresh:
        assert fresh.post("/api/controls/pause", headers=AUTH).json()["controls"]["entries_paused"] is True
        assert fresh.post("/api/controls/resume", headers=AUTH).json()["controls"]["entries_paused"] is False
        assert fresh.post("/api/controls/flatten", headers=AUTH).status_code == 422  # no body
        refused = fresh.post("/api/controls/flatten", json={"confirm": False}, headers=AUTH)
        assert refused.status_code == 400 and "confirm" in refused.json()["detail"]
        for loose in ("yes", "true", "on", 1, "1"):  # only JSON true consents to closing every position
            for action in ("flatten", "halt"):
                assert fresh.post(f"/api/controls/{action}", json={"confirm": loose}, headers=AUTH).status_code == 422
        assert fresh.get("/api/health").json()["controls"]["flatten_requests"] == 0
        flattened = fresh.post("/api/controls/flatten", json={"confirm": True}, headers=AUTH).json()["controls"]
        assert flattened == {"entries_paused": True, "halted": False, "flatten_requests": 1,
                             "pause_reason": "flattened by the operator"}
        halted = fresh.post("/api/controls/halt", json={"confirm": True}, headers=AUTH).json()["controls"]
        assert halted == {"entries_paused": True, "halted": True, "flatten_requests": 2,
                          "pause_reason": "halted by the operator"}
        assert fresh.post("/api/controls/resume", headers=AUTH).json()["controls"]["halted"] is False
        audit = fresh.get("/api/audit", params={"limit": 5}).json()["items"]
        assert [row["action"] for row in audit] == ["resume", "halt", "flatten", "resume", "pause"]
        assert TOKEN not in json.dumps(audit)


def test_strategy_parameters_are_validated_applied_and_audited(stored: Store) -> None:
    with make_client(stored) as fresh:
        post = lambda body: fresh.post("/api/controls/params", json=body, headers=AUTH)  # noqa: E731
        assert post({}).status_code == 400
        assert post({"entry_z": -1}).status_code == 422
        assert post({"entry_z": "high"}).status_code == 422
        assert post({"warmup_rows": 3}).status_code == 422  # not changeable while running
        crossed = post({"entry_z": 0.2})
        assert crossed.status_code == 422 and "exit_z < entry_z" in crossed.json()["detail"]
        malformed = fresh.post("/api/controls/params", content=b"{nope", headers={**AUTH, "Content-Type": "application/json"})
        assert malformed.status_code == 422
        assert fresh.get("/api/config").json()["strategy"]["entry_z"] == 2.0
        changed = post({"entry_z": 2.5, "exit_z": 0.25})
        assert changed.status_code == 200 and changed.json()["entry_z"] == 2.5
        assert fresh.get("/api/config").json()["strategy"]["exit_z"] == 0.25
        audit = fresh.get("/api/audit", params={"limit": 2}).json()["items"]
        assert [(row["action"], row["outcome"]) for row in audit] == [("params", "ok"), ("params", "refused")]
        assert json.loads(audit[0]["detail"]) == {"entry_z": 2.5, "exit_z": 0.25}


def test_backtests_cannot_be_launched_without_an_engine_and_scans_without_a_hook(stored: Store) -> None:
    with make_client(stored) as fresh:
        assert fresh.post("/api/controls/backtest", json={"name": "x"}, headers=AUTH).status_code == 501
        assert fresh.post("/api/controls/backtest", json={"name": ""}, headers=AUTH).status_code == 422
        assert fresh.post("/api/controls/scan", headers=AUTH).status_code == 501


def test_openapi_documents_every_endpoint_with_typed_responses(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/health", "/api/spreads", "/api/spreads/{pair}", "/api/signals", "/api/orders", "/api/fills",
                 "/api/positions", "/api/pnl", "/api/risk", "/api/alerts", "/api/logs", "/api/backtests",
                 "/api/scan", "/api/audit", "/api/controls/pause", "/api/controls/params", "/api/controls/flatten"):
        operation = next(iter(paths[path].values()))
        assert operation["responses"]["200"]["content"]["application/json"]["schema"], path
    assert "SpreadState" in spec["components"]["schemas"] and "Page_FillRow_" in spec["components"]["schemas"]


def test_pairflow_api_serves_a_store_on_its_own_and_stops_on_ctrl_c(tmp_path) -> None:
    process = start_pairflow(tmp_path, "api", "--port", "0", extra_env={"PAIRFLOW_SECRETS__API_TOKEN": TOKEN})
    log = tmp_path / "api.log"
    try:
        url, token = served_api(process, log)
        assert token == TOKEN
        assert httpx.get(f"{url}/api/health", timeout=10).json()["tables"]["signals"] == 0
        assert httpx.post(f"{url}/api/controls/pause", headers=AUTH, timeout=10).json()["controls"]["entries_paused"]
    finally:
        stop_ingest(process)
    assert process.returncode == 0, log.read_text()
