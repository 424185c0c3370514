"""Fuzzing /info, /exchange and /ws: whatever a client sends, the answer is a 2xx/4xx or a WebSocket frame.

Payloads are shaped like the wire schemas (right keys, the ``type`` tags the venue
knows) with values drawn from boundaries, valid examples and hostile text (lone
surrogates, control characters), so most of them get past JSON parsing and reach
decoding, signature checks and the engine. After each run the server must still
answer an ordinary request.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Iterator

import eth_account
import msgspec
import pytest
import requests
import websocket
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hyperliquid.utils.signing import get_timestamp_ms, sign_l1_action

from pairflow.hyperliquid import schemas as rq
from tests.conformance.conftest import SteppableClock, make_engine
from tests.support.venue import run_venue

WALLET = eth_account.Account.from_key("0x" + "5a" * 32)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

hostile_text = st.sampled_from(["\ud800", "\udfff", "a\udc00b", "\x00", "\u2028", "é", "💥"]) | st.text(
    st.characters(codec=None, categories=None), max_size=12)
EXAMPLE_TEXT = ["BTC", "ETH", "SOL", "@1", "NOPE", "", "1M", "1m", "1w", "Gtc", "Ioc", "Alo", "na", "sl", "tp", "0",
                "1", "0.0001", "0.01", "1999", "2001", "61000", "99999999999999999999", "1e3", "-1", "NaN", "9" * 30,
                "0x" + "00" * 16, "0x" + "ab" * 20, WALLET.address, "Testnet", "Mainnet", "0x66eee"]
scalars = st.one_of(
    st.sampled_from([0, 1, -1, 2, 5, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64, -(2**63), 10**30]),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(EXAMPLE_TEXT),
    hostile_text,
    st.none(),
    st.booleans(),
)


def plausible(base: type, meta: msgspec.Meta | None) -> st.SearchStrategy:
    """Return values of ``base`` that pass ``meta`` (pattern, bounds), so payloads get past decoding."""
    if base is str and meta is not None and meta.pattern:
        matching = [text for text in EXAMPLE_TEXT if re.search(meta.pattern, text)]
        return st.sampled_from(matching) if matching else scalars
    if base is int and meta is not None:
        low = meta.ge if meta.ge is not None else 0
        high = meta.le if meta.le is not None else 2**63 - 1
        return st.integers(low, min(high, low + 3)) | st.sampled_from([low, high])
    if base is bool:
        return st.booleans()
    return scalars


def shaped(annotation: object, depth: int = 0) -> st.SearchStrategy:
    """Return JSON values shaped like ``annotation`` (a wire struct, list, union, literal) or any scalar."""
    if depth > 4:
        return scalars
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        fields = msgspec.structs.fields(annotation)
        config = annotation.__struct_config__
        tag = {} if config.tag is None else {config.tag_field: st.just(config.tag)}
        required = {f.name: shaped(f.type, depth + 1) for f in fields if f.required}
        optional = {f.name: shaped(f.type, depth + 1) for f in fields if not f.required}
        extra = st.dictionaries(hostile_text, scalars, max_size=1) if depth == 0 else st.just({})
        return st.builds(lambda body, more: {**body, **more},
                         st.fixed_dictionaries({**tag, **required}, optional=optional), extra)
    if origin is typing.Annotated:
        meta = next((arg for arg in args[1:] if isinstance(arg, msgspec.Meta)), None)
        valid = plausible(args[0], meta)
        return st.one_of(valid, valid, valid, scalars)
    if annotation in (bool, int, str):
        valid = plausible(annotation, None)
        return st.one_of(valid, valid, valid, scalars)
    if origin is list:
        return st.lists(shaped(args[0], depth + 1), max_size=3)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([shaped(arg, depth) for arg in args])
    if origin is typing.Literal:
        return st.one_of(st.sampled_from(args), st.sampled_from(args), st.sampled_from(args), scalars)
    return scalars


def union(kinds: tuple[type, ...]) -> st.SearchStrategy:
    return st.one_of([shaped(kind) for kind in kinds]) | st.builds(
        lambda tag, body: {"type": tag, **body}, hostile_text, st.dictionaries(st.sampled_from(["coin", "user"]),
                                                                               scalars, max_size=2))


json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(hostile_text | st.sampled_from(["type", "coin", "user"]), inner,
                                             max_size=3), max_leaves=10)
info_bodies = union(rq.INFO_REQUEST_TYPES) | json_values
actions = st.one_of(*[union(rq.L1_ACTION_TYPES + rq.USER_SIGNED_ACTION_TYPES)] * 3, json_values)
raw_bodies = st.binary(max_size=64) | st.builds(lambda text: json.dumps(text).encode(), json_values)


def encode(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=True).encode()


@pytest.fixture(scope="module")
def venue() -> Iterator[tuple[str, object]]:
    clock = SteppableClock()
    engine = make_engine(clock())
    with engine.lock:
        engine.fund(WALLET.address, 1_000_000.0)
    with run_venue(engine, clock=clock, advance_interval=0.05) as base_url:
        yield base_url, engine


@pytest.fixture(scope="module")
def url(venue: tuple[str, object]) -> str:
    return venue[0]


def assert_still_serving(url: str) -> None:
    assert requests.post(url + "/info", json={"type": "allMids"}, timeout=5).json()["BTC"] == "60000.0"


def post(url: str, path: str, body: bytes) -> requests.Response:
    response = requests.post(url + path, data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code < 500, (body[:300], response.status_code, response.text[:200])
    return response


def refusal(response: requests.Response) -> str | None:
    """Return the reason of a refused request (a 4xx, or the exchange's ``{"status": "err"}``), None if taken."""
    if response.status_code >= 400:
        return response.text
    answer = response.json()
    return answer["response"] if isinstance(answer, dict) and answer.get("status") == "err" else None


def account_record(engine) -> tuple:
    """What a request could leave behind on the account: its open orders and fills."""
    with engine.lock:
        return engine.open_orders(WALLET.address), engine.user_fills(WALLET.address)


def test_info_never_answers_5xx(url):
    @FUZZ
    @given(info_bodies | raw_bodies)
    def check(body):
        response = post(url, "/info", body if isinstance(body, bytes) else encode(body))
        assert response.status_code < 400 or (response.text.strip() and "Traceback" not in response.text)

    check()
    assert_still_serving(url)


def test_exchange_never_answers_5xx_to_unsigned_or_signed_actions(venue):
    """Any action: taken, or refused with a reason and nothing left on the account; the venue keeps serving."""
    url, engine = venue

    @FUZZ
    @given(actions, st.booleans(), st.one_of(st.none(), st.none(), st.none(), scalars))  # mostly no vault
    def check(action, sign, vault):
        nonce = get_timestamp_ms()
        signature = {"r": "0x1", "s": "0x2", "v": 27}
        if sign and isinstance(action, dict):
            try:
                signature = sign_l1_action(WALLET, action, None, nonce, None, False)
            except Exception:  # the SDK cannot msgpack this action (e.g. an int beyond 64 bits)
                assume(False)
        before = account_record(engine)
        response = post(url, "/exchange", encode({"action": action, "nonce": nonce, "signature": signature,
                                                  "vaultAddress": vault, "expiresAfter": None}))
        reason = refusal(response)
        if reason is not None:
            assert reason.strip() and "Traceback" not in reason, response.text
            assert account_record(engine) == before

    check()
    assert_still_serving(url)


def test_websocket_answers_every_message_and_stays_open(url):
    socket = websocket.create_connection("ws" + url[len("http"):] + "/ws", timeout=10)
    assert socket.recv() == rq.WS_CONNECTED_TEXT
    messages = st.fixed_dictionaries({
        "method": st.sampled_from(["subscribe", "unsubscribe"]) | scalars,
        "subscription": union(rq.SUBSCRIPTION_TYPES) | json_values,
    }) | st.fixed_dictionaries({
        "method": st.just("post"), "id": scalars,
        "request": st.fixed_dictionaries({"type": st.sampled_from(["info", "action"]) | scalars,
                                          "payload": info_bodies}),
    }) | json_values

    @FUZZ
    @given(messages)
    def check(message):
        socket.send(encode(message))
        socket.send('{"method":"ping"}')
        while True:
            frame = socket.recv()
            assert frame, "the server closed the WebSocket"
            if json.loads(frame) == {"channel": "pong"}:
                return

    try:
        check()
    finally:
        socket.close()
    assert_still_serving(url)
