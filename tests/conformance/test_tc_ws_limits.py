"""Per-IP WebSocket caps (open connections, new connections per minute, subscriptions) and the idle close."""

from __future__ import annotations

import json
import time

import pytest
import websocket

from pairflow.clock import WALL_CLOCK
from tests.conformance.ws_client import ABNORMAL_CLOSURE
from tests.helpers import eventually
from tests.support.venue import make_engine, run_venue

CONNECTED = "Websocket connection established."


def ws_address(url: str) -> str:
    return "ws" + url[len("http"):] + "/ws"


def connect(url: str) -> websocket.WebSocket:
    connection = websocket.create_connection(ws_address(url), timeout=5)
    assert connection.recv() == CONNECTED
    return connection


def refused_status(url: str) -> int:
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(ws_address(url), timeout=5)
    return caught.value.status_code


def subscribe(connection: websocket.WebSocket, coin: str) -> dict:
    connection.send(json.dumps({"method": "subscribe", "subscription": {"type": "trades", "coin": coin}}))
    return json.loads(connection.recv())


def close_code(connection: websocket.WebSocket) -> int | None:
    """Read until the server closes; return its close code (None when still open at the receive time-out)."""
    try:
        while True:
            opcode, frame = connection.recv_data_frame(True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return int.from_bytes(frame.data[:2], "big") if len(frame.data) >= 2 else ABNORMAL_CLOSURE
    except websocket.WebSocketTimeoutException:
        return None
    except (ConnectionError, websocket.WebSocketException):
        return ABNORMAL_CLOSURE


def test_open_connections_per_ip_are_capped_and_freed_on_close():
    with run_venue(make_engine(WALL_CLOCK.now_ms()), ws_connections_per_ip=2) as url:
        first, second = connect(url), connect(url)
        try:
            assert refused_status(url) == 429
            first.close()
            third = eventually(lambda: connect(url))
            third.close()
        finally:
            first.close()
            second.close()


def test_new_connections_per_minute_are_capped_even_when_closed():
    with run_venue(make_engine(WALL_CLOCK.now_ms()), ws_new_connections_per_minute=3) as url:
        for _ in range(3):
            connect(url).close()
        assert refused_status(url) == 429


def test_subscriptions_are_capped_per_ip_across_connections():
    with run_venue(make_engine(WALL_CLOCK.now_ms()), ws_subscriptions_per_ip=3) as url:
        first, second = connect(url), connect(url)
        try:
            assert subscribe(first, "BTC")["channel"] == "subscriptionResponse"
            assert subscribe(first, "ETH")["channel"] == "subscriptionResponse"
            assert subscribe(second, "SOL")["channel"] == "subscriptionResponse"
            refused = subscribe(second, "BTC")
            assert refused == {"channel": "error", "data": "Cannot track more than 3 total subscriptions"}
            first.close()
            assert eventually(lambda: subscribe(second, "ETH")["channel"] == "subscriptionResponse")
        finally:
            first.close()
            second.close()


def test_silent_connection_is_closed_and_a_pinging_one_is_kept():
    with run_venue(make_engine(WALL_CLOCK.now_ms()), ws_idle_timeout=1.0) as url:
        silent, pinging = connect(url), connect(url)
        try:
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                pinging.send(json.dumps({"method": "ping"}))
                assert json.loads(pinging.recv()) == {"channel": "pong"}
                pinging.settimeout(0.1)
                with pytest.raises(websocket.WebSocketTimeoutException):
                    pinging.recv()
                pinging.settimeout(5)
            assert close_code(silent) in (1000, ABNORMAL_CLOSURE)
            pinging.send(json.dumps({"method": "ping"}))
            assert json.loads(pinging.recv()) == {"channel": "pong"}
        finally:
            silent.close()
            pinging.close()


def test_default_app_caps_no_connections():
    with run_venue(make_engine(WALL_CLOCK.now_ms())) as url:
        connections = [connect(url) for _ in range(35)]  # past both real caps: 10 open, 30 new per minute
        try:
            for connection in connections:
                connection.send(json.dumps({"method": "ping"}))
            assert [json.loads(connection.recv()) for connection in connections] == [{"channel": "pong"}] * 35
        finally:
            for connection in connections:
                connection.close()
