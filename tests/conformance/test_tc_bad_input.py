"""TC-32 and bad input: every refusal is a 4xx (ClientError in the SDK) or an exchange error, with no state change."""

from __future__ import annotations

import http.client
import json

import pytest
import requests
import structlog
import websocket
from hyperliquid.api import API
from hyperliquid.utils.error import ClientError
from hyperliquid.utils.signing import get_timestamp_ms, sign_l1_action

from tests.conformance.conftest import SteppableClock, fixture, make_engine
from tests.conformance.ws_client import ABNORMAL_CLOSURE, send_and_await_close
from tests.support.venue import run_venue

DESERIALIZE = fixture("http/http_exchange_errors_2026.json")["http422_body"]
MESSAGE_TOO_BIG = 1009
ORDER_WIRE = {"a": 1, "b": True, "p": "1500", "s": "0.1", "r": False, "t": {"limit": {"tif": "Gtc"}}}


def signed_order(wallet, wire: dict, nonce: int) -> dict:
    action = {"type": "order", "orders": [wire], "grouping": "na"}
    signature = sign_l1_action(wallet, action, None, nonce, None, False)
    return {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": None, "expiresAfter": None}


@pytest.mark.parametrize("payload", [
    {"type": "noSuchType"},
    {"type": "clearinghouseState", "user": "not-an-address"},
    {"type": "clearinghouseState", "user": 12},
    {"type": "userFillsByTime", "user": "0x" + "ab" * 20, "startTime": "yesterday"},
    {"type": "userFillsByTime", "user": "0x" + "ab" * 20, "startTime": -5},
    {"type": "userFillsByTime", "user": "0x" + "ab" * 20, "startTime": 10**30},
    {"type": "candleSnapshot", "req": {"coin": "ETH", "interval": "2m", "startTime": 0, "endTime": 1}},
    {"type": "l2Book"},
])
def test_tc32_malformed_info_requests_raise_client_error_422(venue, payload):
    with pytest.raises(ClientError) as caught:
        API(venue.url).post("/info", payload)
    assert caught.value.status_code == 422 and caught.value.error_message == DESERIALIZE


@pytest.mark.parametrize("body", [b"{", b"[]", b"null", b"NaN", b'{"type": NaN}', b"\xff\xfe", b"[" * 50_000,
                                  b'{"type": "meta", "dex": "' + b"9" * 5000 + b'"'])
def test_unparseable_bodies_are_422_and_the_server_keeps_serving(venue, body):
    response = requests.post(venue.url + "/info", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.text == DESERIALIZE
    assert venue.info().meta()["universe"][0]["name"] == "BTC"


def test_oversized_body_is_413(venue):
    response = requests.post(venue.url + "/exchange", data=b"{" + b" " * (2 << 20) + b"}")
    assert response.status_code == 413
    assert venue.info().all_mids()["ETH"] == "2000.0"


def test_wrong_method_is_405(venue):
    assert requests.get(venue.url + "/info").status_code == 405


@pytest.mark.parametrize("field,value", [
    ("p", "NaN"), ("p", "-1500"), ("p", "1e3"), ("p", 1500), ("s", "9" * 40), ("s", None), ("a", -1),
    ("a", 2**40), ("b", "yes"), ("t", {}), ("t", {"limit": {"tif": "Gtd"}}), ("c", "0x12"),
])
def test_malformed_orders_are_422_and_burn_no_nonce(venue, field, value):
    wallet = venue.wallet()
    api = API(venue.url)
    nonce = get_timestamp_ms()
    with pytest.raises(ClientError) as caught:
        api.post("/exchange", signed_order(wallet, {**ORDER_WIRE, field: value}, nonce))
    assert caught.value.status_code == 422
    assert venue.info().open_orders(wallet.address) == []
    assert api.post("/exchange", signed_order(wallet, ORDER_WIRE, nonce))["status"] == "ok"


@pytest.mark.parametrize("mutate", [
    lambda body: body.pop("signature"),
    lambda body: body.update(nonce="123"),
    lambda body: body.update(nonce=-1),
    lambda body: body.update(signature={"r": 1, "s": 2, "v": 27}),
    lambda body: body.update(vaultAddress="me"),
    lambda body: body["action"].update(type="transmogrify"),
    lambda body: body["action"].pop("type"),
])
def test_malformed_envelopes_are_422(venue, mutate):
    body = signed_order(venue.wallet(), ORDER_WIRE, get_timestamp_ms())
    mutate(body)
    with pytest.raises(ClientError) as caught:
        API(venue.url).post("/exchange", body)
    assert caught.value.status_code == 422


def test_known_but_unsupported_action_is_an_exchange_error(venue):
    wallet = venue.wallet()
    nonce = get_timestamp_ms()
    action = {"type": "setReferrer", "code": "FRIEND"}
    body = {"action": action, "nonce": nonce, "signature": sign_l1_action(wallet, action, None, nonce, None, False),
            "vaultAddress": None, "expiresAfter": None}
    assert API(venue.url).post("/exchange", body) == {
        "status": "err", "response": "Action setReferrer is not supported by this venue."}


def test_unknown_perp_dex_is_422(venue):
    with pytest.raises(ClientError) as caught:
        venue.info().meta(dex="xyz")
    assert caught.value.status_code == 422


def post_from(source_ip: str, base_url: str, payload: dict) -> int:
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5, source_address=(source_ip, 0))
    try:
        connection.request("POST", "/info", body=json.dumps(payload), headers={"Content-Type": "application/json"})
        return connection.getresponse().status
    finally:
        connection.close()


def test_tc32_flood_gets_429_per_ip_and_other_clients_are_still_served():
    clock = SteppableClock()
    with run_venue(make_engine(clock()), clock=clock, ip_weight_per_minute=100) as url:
        api = API(url)
        for _ in range(5):
            api.post("/info", {"type": "meta", "dex": ""})
        with pytest.raises(ClientError) as caught:
            api.post("/info", {"type": "meta", "dex": ""})
        assert caught.value.status_code == 429
        assert post_from("127.0.0.2", url, {"type": "allMids", "dex": ""}) == 200
        with pytest.raises(ClientError) as again:
            api.post("/exchange", {"garbage": True})
        assert again.value.status_code == 429


def test_oversized_websocket_frame_drops_only_that_connection(venue):
    address = "ws" + venue.url[len("http"):] + "/ws"
    flooder = websocket.create_connection(address, timeout=5)
    try:
        flooder.recv()
        assert send_and_await_close(flooder, "x" * 200_000) in (MESSAGE_TOO_BIG, ABNORMAL_CLOSURE)
    finally:
        flooder.close()
    other = websocket.create_connection(address, timeout=5)
    try:
        other.recv()
        other.send(json.dumps({"method": "ping"}))
        assert json.loads(other.recv()) == {"channel": "pong"}
    finally:
        other.close()


def test_candle_snapshot_with_the_largest_end_time_answers_the_candles(venue):
    venue.seed_book()
    body = {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1M", "startTime": 0, "endTime": 2**63 - 1}}
    response = requests.post(venue.url + "/info", json=body)
    assert response.status_code == 200 and response.json() == []
    far = {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1w", "startTime": 2**63 - 1}}
    assert requests.post(venue.url + "/info", json=far).json() == []


LONE_SURROGATE = "\\ud800"


@pytest.mark.parametrize(("path", "body"), [
    ("/info", b'{"type": "' + LONE_SURROGATE.encode() + b'"}'),
    ("/info", b'{"' + LONE_SURROGATE.encode() + b'": 1, "type": "meta"}'),
    ("/info", b'{"type": "l2Book", "coin": "' + LONE_SURROGATE.encode() + b'"}'),
    ("/info", b'{"type": "meta", "dex": "\xc3\x28"}'),
    ("/exchange", b'{"action": {"type": "' + LONE_SURROGATE.encode()
     + b'"}, "nonce": 1, "signature": {"r": "0x1", "s": "0x2", "v": 27}}'),
    ("/exchange", b'{"action": {"type": "order", "orders": [], "grouping": "na"}, "nonce": 1, '
     b'"signature": {"r": "0x1", "s": "0x2", "v": 27}, "\xed\xa0\x80": 1}'),
])
def test_lone_surrogates_and_invalid_utf8_are_422_logged_in_one_line(venue, path, body):
    with structlog.testing.capture_logs() as logs:
        response = requests.post(venue.url + path, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.text == DESERIALIZE
    assert [entry["event"] for entry in logs] == ["refused request"]
    assert logs[0]["log_level"] == "info" and "exc_info" not in logs[0] and "\n" not in logs[0]["reason"]
    assert venue.info().meta()["universe"][0]["name"] == "BTC"


@pytest.mark.parametrize("text", [
    '{"method": "subscribe", "subscription": {"type": "trades", "coin": "' + LONE_SURROGATE + '"}}',
    '{"method": "subscribe", "subscription": {"type": "l2Book", "coin": "NOPE"}}',
    '{"method": "subscribe", "subscription": {"' + LONE_SURROGATE + '": "trades"}}',
    '{"method": "' + LONE_SURROGATE + '"}',
    '{"method": "post", "id": 1, "request": {"type": "info", "payload": {"type": "' + LONE_SURROGATE + '"}}}',
])
def test_bad_websocket_subscriptions_get_an_error_frame_and_the_socket_stays_open(venue, text):
    socket = websocket.create_connection("ws" + venue.url[len("http"):] + "/ws", timeout=5)
    try:
        assert socket.recv() == "Websocket connection established."
        socket.send(text)
        frame = json.loads(socket.recv())
        assert frame["channel"] in ("error", "post")
        if frame["channel"] == "post":
            assert frame["data"]["response"] == {"type": "error", "payload": DESERIALIZE}
        socket.send(json.dumps({"method": "ping"}))
        assert json.loads(socket.recv()) == {"channel": "pong"}
    finally:
        socket.close()
