"""Stream and input boundaries: a client that never reads is cut off without slowing the others; no input makes a 5xx."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from urllib.parse import quote, urlencode

import httpx
import pytest
import websockets
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.auth import TokenGuard
from api.context import ApiContext
from api.server import CLOSE_TIMEOUT_S, ApiServer
from operators.spread_strategy import SpreadStrategy
from pairflow.config import Settings, StrategySettings
from pairflow.control import Control
from pairflow.storage import Store

TOKEN = "s" * 24


def served(store: Store, queue: int) -> tuple[ApiServer, object]:
    app = create_app(ApiContext(store=store, settings=Settings(), guard=TokenGuard(TOKEN), ws_queue_size=queue))
    return ApiServer(app), app


def test_a_client_that_never_reads_is_disconnected_while_a_reader_gets_every_message(store: Store) -> None:
    server, app = served(store, queue=8)
    url = server.start()
    hub = app.state.hub  # type: ignore[attr-defined]
    payload = [{"ts": 1, "id": "x", "blob": base64.b64encode(os.urandom(49_152)).decode()}]  # 64 kB, incompressible

    async def run() -> tuple[int, int]:
        ws = url.replace("http", "ws", 1) + "/api/ws?topics=alerts"
        # The stalled client: a tiny receive buffer and a library queue of one, and it never calls recv().
        stalled = await websockets.connect(ws, max_queue=1, max_size=None)
        stalled.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        async with websockets.connect(ws, max_size=None) as reader:
            while hub.clients < 2:
                await asyncio.sleep(0.01)
            received = 0
            for _ in range(300):
                hub.publish("alerts", payload)
                json.loads(await asyncio.wait_for(reader.recv(), 5))
                received += 1
            started = time.monotonic()
            health = await asyncio.to_thread(httpx.get, f"{url}/api/health", timeout=5)
            assert health.status_code == 200 and time.monotonic() - started < 5
            connected = hub.clients  # the reader only: the stalled client left the hub
        stalled.transport.abort()
        return received, connected

    try:
        received, connected = asyncio.run(run())
    finally:
        server.stop()
    assert received == 300 and connected == 1 and hub.disconnected_slow == 1


def test_a_stalled_client_is_cut_off_at_once_not_at_the_ping_timeout(store: Store) -> None:
    server, app = served(store, queue=4)
    url = server.start()
    hub = app.state.hub  # type: ignore[attr-defined]
    payload = [{"ts": 1, "id": "x", "blob": base64.b64encode(os.urandom(49_152)).decode()}]

    async def run() -> float:
        stalled = await websockets.connect(url.replace("http", "ws", 1) + "/api/ws?topics=alerts", max_queue=1,
                                           max_size=None)
        stalled.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        while hub.clients < 1:
            await asyncio.sleep(0.01)
        while hub.disconnected_slow == 0:
            hub.publish("alerts", payload)
            await asyncio.sleep(0.001)
        dropped = time.monotonic()
        while server.open_connections:
            assert time.monotonic() - dropped < 10, "the server still holds the stalled connection 10 s after dropping it"
            await asyncio.sleep(0.05)
        stalled.transport.abort()
        return time.monotonic() - dropped

    try:
        seconds = asyncio.run(run())
    finally:
        server.stop()
    assert seconds < 5 * CLOSE_TIMEOUT_S  # uvicorn alone held it until its 20 s ping


def test_a_client_that_falls_behind_is_told_why_with_close_code_1013(store: Store) -> None:
    server, app = served(store, queue=8)
    url = server.start()
    hub = app.state.hub  # type: ignore[attr-defined]

    async def run() -> tuple[int, websockets.ConnectionClosed]:
        async with websockets.connect(url.replace("http", "ws", 1) + "/api/ws?topics=alerts") as client:
            while hub.clients < 1:
                await asyncio.sleep(0.01)
            # 50 messages queued in one turn of the server's loop (one callback on it, so its sender cannot
            # drain between them, however loaded the machine): more than the client's queue of 8 holds.
            hub._loop.call_soon_threadsafe(lambda: [hub.publish("alerts", [{"n": n}]) for n in range(50)])
            received = 0
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(client.recv(), 5)
                    received += 1
            return received, closed.value

    try:
        received, closed = asyncio.run(run())
    finally:
        server.stop()
    assert received <= 9 and closed.rcvd is not None  # the queue of 8 and the one being sent
    assert (closed.rcvd.code, closed.rcvd.reason) == (1013, "client too slow: fell 8 messages behind")


def test_a_stream_of_unknown_topics_is_closed_with_the_reason_and_the_api_keeps_serving(store: Store) -> None:
    """Over a real server: the close came before the handshake, so a client saw a bare HTTP 403 and no reason."""
    server, _ = served(store, queue=8)
    url = server.start()

    async def close_of(topics: str) -> websockets.frames.Close | None:
        async with websockets.connect(url.replace("http", "ws", 1) + "/api/ws?" + urlencode({"topics": topics})) as client:
            try:
                await asyncio.wait_for(client.recv(), 0.2)
            except TimeoutError:
                return None  # open and streaming: every topic was known
            except websockets.ConnectionClosed as closed:
                return closed.rcvd
        return None

    @settings(max_examples=15, deadline=None)
    @given(st.lists(st.sampled_from(["signals", "fills", "bogus", "", "é" * 40, "x" * 60]), max_size=4).map(",".join))
    def stream(topics: str) -> None:
        closed = asyncio.run(close_of(topics))
        known = [topic for topic in topics.split(",") if topic]
        if known and set(known) <= {"signals", "fills"}:
            assert closed is None
        else:
            assert closed is not None and closed.code == 1008, topics
            assert closed.reason.startswith("choose topics from " if len(topics) <= 200 else "topics: at most 200")
        assert httpx.get(url + "/api/health", timeout=5).status_code == 200

    try:
        stream()
    finally:
        server.stop()


def client_for(store: Store, control: Control | None = None) -> TestClient:
    ctx = ApiContext(store=store, settings=Settings(), guard=TokenGuard(TOKEN), control=control or Control())
    return TestClient(create_app(ctx))


query_values = st.one_of(st.integers(-10**12, 10**12), st.text(max_size=40), st.floats(allow_nan=True))
path_values = st.one_of(st.text(max_size=20), st.sampled_from(["ETH/SOL", "../..", "%00", "9" * 30, ""]))


def get_routes() -> list[tuple[str, tuple[str, ...]]]:
    """Return every GET route the API documents, with its query parameters' names."""
    with TestClient(create_app(ApiContext(store=None, settings=Settings(), guard=TokenGuard(TOKEN)))) as client:
        spec = client.get("/openapi.json").json()
    return [
        (path, tuple(p["name"] for p in methods["get"].get("parameters", []) if p["in"] == "query"))
        for path, methods in sorted(spec["paths"].items()) if "get" in methods
    ]


GET_ROUTES = get_routes()


def stored_rows(store: Store) -> int:
    return int(store.query("SELECT sum(total_rows) FROM system.tables WHERE database = currentDatabase()")[0][0] or 0)


def assert_clear_refusal(response) -> None:
    """A 4xx names what was wrong: FastAPI's field list (where and what) or one line."""
    detail = response.json()["detail"]
    if isinstance(detail, list):
        assert detail and all(item["loc"] and item["msg"] for item in detail), detail
    else:
        assert isinstance(detail, str) and detail and "\n" not in detail, detail


def test_no_query_makes_a_server_error(store: Store) -> None:
    """Every documented read, path and query fuzzed: 200 or a clear 4xx, the API still answers, nothing stored."""
    with client_for(store) as client:

        @settings(max_examples=60, deadline=None)
        @given(route=st.sampled_from(GET_ROUTES), path_value=path_values, data=st.data())
        def read(route: tuple[str, tuple[str, ...]], path_value: str, data: st.DataObject) -> None:
            path, names = route
            query = data.draw(st.dictionaries(st.sampled_from(names), query_values, max_size=4) if names else st.just({}))
            url = path.replace("{pair}", quote(path_value, safe="/")).replace("{run_id}", quote(path_value, safe=""))
            before = stored_rows(store)
            response = client.get(url, params={key: str(value) for key, value in query.items()})
            assert response.status_code in (200, 404, 422) or (response.status_code == 501 and "report" in path), (
                response.text
            )
            if response.status_code != 200:
                assert_clear_refusal(response)
            elif "limit" in response.json():
                assert 1 <= response.json()["limit"] <= 1000
            assert client.get("/api/health").status_code == 200
            assert stored_rows(store) == before

        read()


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False), st.integers(), st.text(max_size=10)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


def accepted_changes(store: Store) -> int:
    return int(store.query("SELECT count() FROM control_audit WHERE action = 'params' AND outcome = 'ok'")[0][0])


parameter_bodies = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(["entry_z", "exit_z", "stop_z", "notional_usd", "x"]), json_values, max_size=4),
)


def test_no_parameter_body_makes_a_server_error_or_breaks_the_band_order(store: Store) -> None:
    """Any body: applied, or a clear 4xx that changes and stores nothing; the bands stay ordered; the API answers."""
    control = Control()
    with client_for(store, control) as client:

        @settings(max_examples=60, deadline=None)
        @given(body=parameter_bodies)
        def change(body: object) -> None:
            before, version = accepted_changes(store), control.tuning().version
            response = client.post("/api/controls/params", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code in (200, 400, 422), response.text
            if response.status_code != 200:
                assert_clear_refusal(response)
            strategy = client.get("/api/config").json()["strategy"]
            # Only an accepted change is stored as one ("ok" in the audit); a refused body changes nothing.
            assert accepted_changes(store) - before == (response.status_code == 200)
            assert strategy["exit_z"] < strategy["entry_z"] < strategy["stop_z"]
            # What reaches the running spreads is exactly what was accepted, and a spread takes it without refusing.
            tuning = control.tuning()
            assert tuning.version - version == (response.status_code == 200)
            spread = SpreadStrategy(("ETH", "SOL"), StrategySettings())
            spread.retune(**tuning.values)
            assert (spread.entry_z, spread.exit_z, spread.stop_z) == (
                strategy["entry_z"], strategy["exit_z"], strategy["stop_z"]
            )

        change()
