"""Request decoding: what the SDK sends decodes; everything the real venue refuses raises BadRequest."""

from __future__ import annotations

import pytest

from pairflow.hyperliquid import schemas as rq
from pairflow.hyperliquid.schemas import BadRequest, decode_action, decode_exchange_request, decode_info_request
from venue.server.body import parse_json

USER = "0x" + "Ab" * 20


@pytest.mark.parametrize(("body", "expected"), [
    ({"type": "spotMeta"}, rq.SpotMetaRequest()),
    ({"type": "meta", "dex": ""}, rq.MetaRequest(dex="")),
    ({"type": "clearinghouseState", "user": USER, "dex": ""}, rq.ClearinghouseStateRequest(user=USER)),
    ({"type": "userFillsByTime", "user": USER, "startTime": 1, "endTime": None, "aggregateByTime": False},
     rq.UserFillsByTimeRequest(user=USER, startTime=1)),
    ({"type": "userFillsByTime", "user": USER, "startTime": 1, "endTime": 9, "aggregateByTime": True},
     rq.UserFillsByTimeRequest(user=USER, startTime=1, endTime=9, aggregateByTime=True)),
    ({"type": "orderStatus", "user": USER, "oid": 12}, rq.OrderStatusRequest(user=USER, oid=12)),
    ({"type": "orderStatus", "user": USER, "oid": "0x00000000000000000000000000000007"},
     rq.OrderStatusRequest(user=USER, oid="0x00000000000000000000000000000007")),
    ({"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1h", "startTime": 0, "endTime": 5}},
     rq.CandleSnapshotRequest(req=rq.CandleRange(coin="BTC", interval="1h", startTime=0, endTime=5))),
    ({"type": "l2Book", "coin": "BTC", "nSigFigs": None, "unknownKey": 1}, rq.L2BookRequest(coin="BTC")),
    ({"type": "l2Book", "coin": "BTC", "nSigFigs": 3, "mantissa": 2},
     rq.L2BookRequest(coin="BTC", nSigFigs=3, mantissa=2)),
])
def test_sdk_info_bodies_decode_to_their_whole_request(body, expected):
    assert decode_info_request(body) == expected


@pytest.mark.parametrize("body", [
    {"type": "noSuchType"},
    {"dex": ""},
    [],
    {"type": "clearinghouseState", "user": "0x12"},
    {"type": "clearinghouseState", "user": 5},
    {"type": "userFillsByTime", "user": USER, "startTime": -1},
    {"type": "userFillsByTime", "user": USER, "startTime": 1.5},
    {"type": "userFillsByTime", "user": USER, "startTime": True},
    {"type": "orderStatus", "user": USER, "oid": "0x12"},
    {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "7m", "startTime": 0, "endTime": 5}},
    {"type": "l2Book", "coin": "BTC", "nSigFigs": 9},
    {"type": "fundingHistory", "coin": "BTC", "startTime": 2**70},
])
def test_malformed_info_bodies_are_bad_requests(body):
    with pytest.raises(BadRequest):
        decode_info_request(body)


@pytest.mark.parametrize("text", [b"{", b"NaN", b'{"a": Infinity}', b"\xff", b"[" * 100_000, b"1" * 5000])
def test_unparseable_json_is_a_bad_request(text):
    with pytest.raises(BadRequest):
        parse_json(text)


def test_parse_json_keeps_key_order():
    assert list(parse_json(b'{"b": 1, "a": 2, "c": 3}')) == ["b", "a", "c"]


ORDER = {"a": 1, "b": True, "p": "1100", "s": "0.2", "r": False, "t": {"limit": {"tif": "Gtc"}}}


ORDER_WIRE = rq.OrderWire(a=1, b=True, p="1100", s="0.2", r=False, t=rq.OrderTypeWire(limit=rq.LimitWire("Gtc")))
CLOID = "0x00000000000000000000000000000007"


@pytest.mark.parametrize(("action", "expected"), [
    ({"type": "order", "orders": [ORDER], "grouping": "na"}, rq.OrderAction(orders=[ORDER_WIRE])),
    ({"type": "order", "orders": [ORDER], "grouping": {"p": 2}, "builder": {"b": USER.lower(), "f": 10}},
     rq.OrderAction(orders=[ORDER_WIRE], grouping=rq.PriorityGrouping(2), builder=rq.BuilderWire(USER.lower(), 10))),
    ({"type": "order", "orders": [{**ORDER, "c": CLOID,
                                   "t": {"trigger": {"isMarket": True, "triggerPx": "61000", "tpsl": "sl"}}}],
      "grouping": "normalTpsl"},
     rq.OrderAction(orders=[rq.OrderWire(a=1, b=True, p="1100", s="0.2", r=False, c=CLOID, t=rq.OrderTypeWire(
         trigger=rq.TriggerWire(isMarket=True, triggerPx="61000", tpsl="sl")))], grouping="normalTpsl")),
    ({"type": "batchModify", "modifies": [{"oid": 5, "order": ORDER}]},
     rq.BatchModifyAction(modifies=[rq.ModifyWire(oid=5, order=ORDER_WIRE)])),
    ({"type": "modify", "oid": CLOID, "order": ORDER}, rq.ModifyAction(oid=CLOID, order=ORDER_WIRE)),
    ({"type": "cancel", "cancels": [{"a": 1, "o": 12}]}, rq.CancelAction(cancels=[rq.CancelWire(a=1, o=12)])),
    ({"type": "scheduleCancel"}, rq.ScheduleCancelAction()),
    ({"type": "scheduleCancel", "time": 77}, rq.ScheduleCancelAction(time=77)),
    ({"type": "updateIsolatedMargin", "asset": 1, "isBuy": True, "ntli": -5},
     rq.UpdateIsolatedMarginAction(asset=1, isBuy=True, ntli=-5)),
    ({"type": "approveAgent", "agentAddress": USER, "nonce": 1, "signatureChainId": "0x66eee",
      "hyperliquidChain": "Testnet"},
     rq.ApproveAgentAction(signatureChainId="0x66eee", hyperliquidChain="Testnet", agentAddress=USER, nonce=1)),
])
def test_sdk_actions_decode_to_their_whole_action(action, expected):
    assert decode_action(action) == expected


@pytest.mark.parametrize("action", [
    {"type": "order", "orders": [{**ORDER, "p": "NaN"}], "grouping": "na"},
    {"type": "order", "orders": [{**ORDER, "p": "-1"}], "grouping": "na"},
    {"type": "order", "orders": [{**ORDER, "s": "1e5"}], "grouping": "na"},
    {"type": "order", "orders": [{**ORDER, "s": "9" * 40}], "grouping": "na"},
    {"type": "order", "orders": [{**ORDER, "p": 1100}], "grouping": "na"},
    {"type": "order", "orders": [{**ORDER, "a": -1}], "grouping": "na"},
    {"type": "order", "orders": [{**ORDER, "t": {}}], "grouping": "na"},
    {"type": "order", "orders": [{**ORDER, "t": {"limit": {"tif": "Gtx"}}}], "grouping": "na"},
    {"type": "order", "orders": [ORDER], "grouping": "sometimes"},
    {"type": "cancel", "cancels": [{"a": 1, "o": "12"}]},
    {"type": "updateLeverage", "asset": 1, "isCross": True, "leverage": -3},
    {"type": "transmogrify"},
])
def test_malformed_actions_are_bad_requests(action):
    with pytest.raises(BadRequest):
        decode_action(action)


def test_envelope_requires_signature_and_integer_nonce():
    good = {"action": {"type": "noop"}, "nonce": 5, "signature": {"r": "0x1", "s": "0x2", "v": 27},
            "vaultAddress": None, "expiresAfter": None}
    assert decode_exchange_request(good).nonce == 5
    for broken in ({**good, "nonce": "5"}, {**good, "signature": None}, {**good, "action": []},
                   {k: v for k, v in good.items() if k != "nonce"}, {**good, "vaultAddress": "me"}):
        with pytest.raises(BadRequest):
            decode_exchange_request(broken)
