"""Properties of request decoding and signer recovery on generated inputs."""

from __future__ import annotations

import json
from typing import Union

import eth_account
import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from hyperliquid.utils.signing import float_to_wire, sign_l1_action

from pairflow.hyperliquid.signing import recover_l1_signer
from pairflow.hyperliquid.schemas import (
    INFO_REQUEST_TYPES, BadRequest, decode_action, decode_exchange_request, decode_info_request,
)
from venue.server.body import parse_json

WALLET = eth_account.Account.from_key("0x" + "22" * 32)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
typed_objects = st.builds(
    lambda kind, extra: {"type": kind, **extra},
    st.sampled_from(["meta", "l2Book", "orderStatus", "clearinghouseState", "candleSnapshot", "order", "cancel",
                     "usdSend", "approveAgent", "nope"]),
    st.dictionaries(st.sampled_from(["coin", "user", "oid", "orders", "cancels", "req", "startTime", "amount"]),
                    json_values, max_size=4),
)


@given(st.one_of(json_values, typed_objects))
def test_decoders_only_ever_raise_bad_request(payload):
    for decode in (decode_info_request, decode_exchange_request):
        try:
            decode(payload)
        except BadRequest:
            pass
    if isinstance(payload, dict):
        try:
            decode_action(payload)
        except BadRequest:
            pass


info_objects = st.builds(
    lambda kind, extra: {**extra, "type": kind},
    st.sampled_from(["userFunding", "userFillsByTime", "l2Book", "meta", "orderStatus", "nope"]) | json_values,
    st.dictionaries(st.sampled_from(["coin", "user", "oid", "startTime", "endTime", "nSigFigs"]),
                    json_values | st.just("0x" + "ab" * 20) | st.integers(0, 2**40), max_size=4),
)


def _union_decode(payload):
    try:
        return msgspec.convert(payload, Union[INFO_REQUEST_TYPES], strict=True)  # noqa: UP007
    except msgspec.ValidationError as error:
        return str(error)


@given(st.one_of(info_objects, json_values))
def test_info_requests_decode_as_the_whole_union_does(payload):
    # decode_info_request goes straight to the struct its "type" names: same request, same error text.
    try:
        decoded = decode_info_request(payload)
    except BadRequest as error:
        decoded = error.detail
    assert decoded == _union_decode(payload)


@given(st.binary(max_size=200))
def test_parse_json_only_ever_raises_bad_request(body):
    try:
        parse_json(body)
    except BadRequest:
        pass


@settings(max_examples=15, deadline=None)
@given(price=st.decimals(min_value="0.01", max_value="99999", places=2), size=st.integers(1, 10**6),
       nonce=st.integers(1, 2**62), is_buy=st.booleans())
def test_recovery_round_trips_for_any_order_wire(price, size, nonce, is_buy):
    action = {"type": "order", "orders": [{"a": 3, "b": is_buy, "p": float_to_wire(float(price)),
                                           "s": float_to_wire(size / 1000), "r": False,
                                           "t": {"limit": {"tif": "Gtc"}}}], "grouping": "na"}
    signature = sign_l1_action(WALLET, action, None, nonce, None, False)
    wire = parse_json(json.dumps({"action": action, "signature": signature}).encode())
    assert recover_l1_signer(wire["action"], wire["signature"], None, nonce, None) == WALLET.address.lower()
    decode_action(wire["action"])
