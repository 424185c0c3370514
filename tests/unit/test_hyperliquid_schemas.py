"""The shared wire schemas: what the client encodes is what the venue decodes, subscriptions are strict."""

from __future__ import annotations

import msgspec
import pytest

from pairflow.hyperliquid import schemas as rq
from pairflow.hyperliquid.schemas import BadRequest, decode_info_request, decode_subscription

USER = "0x" + "ab" * 20


@pytest.mark.parametrize("request_", [
    rq.MetaAndAssetCtxsRequest(),
    rq.CandleSnapshotRequest(rq.CandleRange("BTC", "1M", 0, 2**63 - 1)),
    rq.FundingHistoryRequest("ETH", 5),
    rq.FundingHistoryRequest("ETH", 5, 9),
    rq.UserFeesRequest(USER),
])
def test_client_requests_round_trip_through_the_venue_decoder(request_):
    wire = msgspec.to_builtins(request_)
    assert decode_info_request(msgspec.json.decode(msgspec.json.encode(wire))) == request_


def test_defaults_are_not_sent():
    assert msgspec.to_builtins(rq.FundingHistoryRequest("ETH", 5)) == {"type": "fundingHistory", "coin": "ETH",
                                                                        "startTime": 5}


@pytest.mark.parametrize(("payload", "expected"), [
    ({"type": "allMids"}, rq.AllMidsSubscription()),
    ({"type": "l2Book", "coin": "BTC", "nSigFigs": 3}, rq.L2BookSubscription(coin="BTC", nSigFigs=3)),
    ({"type": "candle", "coin": "@1", "interval": "1M"}, rq.CandleSubscription(coin="@1", interval="1M")),
    ({"type": "userFills", "user": USER, "aggregateByTime": True},
     rq.UserFillsSubscription(user=USER, aggregateByTime=True)),
    ({"type": "activeAssetData", "user": USER, "coin": "ETH", "extra": 1},
     rq.ActiveAssetDataSubscription(user=USER, coin="ETH")),
])
def test_subscriptions_decode(payload, expected):
    assert decode_subscription(payload) == expected


@pytest.mark.parametrize("payload", [
    None, [], {"type": "nope"}, {"type": "trades"}, {"type": "trades", "coin": ""}, {"type": "trades", "coin": 5},
    {"type": "trades", "coin": "x" * 101}, {"type": "l2Book", "coin": "BTC", "nSigFigs": 1},
    {"type": "l2Book", "coin": "BTC", "nSigFigs": True}, {"type": "candle", "coin": "BTC", "interval": "2m"},
    {"type": "userFills", "user": "0x12"}, {"type": "userEvents", "user": "0x" + "zz" * 20},
])
def test_bad_subscriptions_are_refused(payload):
    with pytest.raises(BadRequest):
        decode_subscription(payload)


def test_candle_intervals_are_the_schema_literal():
    assert rq.CANDLE_INTERVALS[0] == "1m" and rq.CANDLE_INTERVALS[-1] == "1M" and len(rq.CANDLE_INTERVALS) == 14
