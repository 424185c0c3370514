"""Parsing of real recorded Hyperliquid payloads into whole events."""

import json

import pytest

from pairflow.errors import ParseError
from pairflow.events import AssetContext, Bbo, BookLevel, Candle, Delisting, FeeSchedule, Funding, Trade
from pairflow.hyperliquid import parse
from tests.helpers import FIXTURES

RECV = 1_790_358_700_000


def frames(name):
    return json.loads((FIXTURES / "hyperliquid" / "ws" / name).read_text())["response"]


def http(name):
    return json.loads((FIXTURES / "hyperliquid" / "http" / name).read_text())["response"]


def frame(channel, name="ws_mixed_mainnet_2026.json"):
    return next(f for f in frames(name) if f["channel"] == channel)


def test_trades_frame_parses_to_whole_trades():
    trades = parse.parse_ws_trades(frame("trades")["data"], RECV)
    assert trades[0] == Trade(
        id="BTC:437413095582311",
        coin="BTC",
        ts=1790358604045,
        recv_ts=RECV,
        px=83770.0,
        sz=0.00819,
        side="B",
        tid=437413095582311,
        hash="0x" + "0" * 64,
    )
    assert [t.side for t in trades] == ["B", "A"]


def test_bbo_frame():
    assert parse.parse_bbo(frame("bbo")["data"], RECV) == Bbo(
        id="BTC:1790358617881",
        coin="BTC",
        ts=1790358617881,
        recv_ts=RECV,
        bid_px=83757.0,
        bid_sz=22.61305,
        ask_px=83758.0,
        ask_sz=0.00016,
    )


def test_candle_frame():
    assert parse.parse_candle(frame("candle")["data"], RECV) == Candle(
        id="BTC:1m:1790358600000",
        coin="BTC",
        interval="1m",
        ts=1790358600000,
        close_ts=1790358659999,
        recv_ts=RECV,
        open=83765.0,
        high=83770.0,
        low=83756.0,
        close=83765.0,
        volume=0.3317,
        trades=36,
    )


def test_active_asset_ctx_frame():
    assert parse.parse_active_asset_ctx(frame("activeAssetCtx")["data"], RECV) == AssetContext(
        id=f"BTC:{RECV}",
        coin="BTC",
        ts=RECV,
        recv_ts=RECV,
        mark_px=83757.0,
        oracle_px=83778.1,
        mid_px=83757.5,
        open_interest=39338.76246,
        funding=0.0000125,
        premium=-0.0001348801,
        day_ntl_vlm=3096053627.5618200302,
        prev_day_px=84086.0,
    )


def test_testnet_l2_book_frame_is_uncrossed_and_ordered():
    book = parse.parse_l2_book(frame("l2Book", "ws_mixed_testnet_2026.json")["data"], RECV)
    assert book.bids and book.asks
    assert [lvl.px for lvl in book.bids] == sorted((lvl.px for lvl in book.bids), reverse=True)
    assert [lvl.px for lvl in book.asks] == sorted(lvl.px for lvl in book.asks)
    assert book.bids[0].px < book.asks[0].px


def test_l2_book_snapshot_response():
    raw = http("http_l2Book_DYDX.json")
    book = parse.parse_l2_book(raw, RECV)
    assert book.coin == "DYDX"
    assert len(book.bids) == len(raw["levels"][0])
    first = raw["levels"][0][0]
    assert book.bids[0] == BookLevel(float(first["px"]), float(first["sz"]), first["n"])


def test_candle_snapshot_response():
    raw = http("http_candleSnapshot_kPEPE_1h.json")
    candles = parse.parse_candle_snapshot(raw, RECV)
    assert len(candles) == len(raw)
    assert all(c.close_ts == c.ts + 3_600_000 - 1 for c in candles)
    assert len({c.id for c in candles}) == len(candles)


def test_funding_history_ids_use_the_hour():
    rows = parse.parse_funding_history(http("http_fundingHistory_BTC.json"), RECV)
    assert rows[0] == Funding(
        id=f"BTC:{rows[0].ts // 3_600_000 * 3_600_000}",
        coin="BTC",
        ts=rows[0].ts,
        recv_ts=RECV,
        rate=rows[0].rate,
        premium=rows[0].premium,
    )
    raw = http("http_fundingHistory_BTC.json")[0]
    assert rows[0].rate == float(raw["fundingRate"]) and rows[0].premium == float(raw["premium"])


def test_user_fees():
    raw = http("http_userFees_2024.json")
    fees = parse.parse_user_fees(raw, RECV)
    assert fees == FeeSchedule(
        id=f"fees:{RECV}",
        ts=RECV,
        recv_ts=RECV,
        taker=float(raw["userCrossRate"]),
        maker=float(raw["userAddRate"]),
        spot_taker=None,
        spot_maker=None,
    )


def test_user_fees_with_spot_rates():
    raw = {"feeSchedule": {"cross": "0.00045", "add": "0.00015", "spotCross": "0.0007", "spotAdd": "0.0004"},
           "userCrossRate": "0.00045", "userAddRate": "0.00015"}
    fees = parse.parse_user_fees(raw, RECV)
    assert (fees.taker, fees.maker, fees.spot_taker, fees.spot_maker) == (0.00045, 0.00015, 0.0007, 0.0004)


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (lambda t: t.update(px=83770.0), "data[0].px", "expected a string (received 83770.0)"),
        (lambda t: t.update(px="abc"), "data[0].px", "expected a decimal string"),
        (lambda t: t.update(px="nan"), "data[0].px", "expected a finite number"),
        (lambda t: t.update(sz="-1"), "data[0].sz", "expected a positive number"),
        (lambda t: t.update(side="X"), "data[0].side", "expected 'B' or 'A'"),
        (lambda t: t.pop("tid"), "data[0].tid", "missing field"),
        (lambda t: t.update(time="1"), "data[0].time", "expected an integer (received '1')"),
        (lambda t: t.update(tid=None), "data[0].tid", "expected an integer (received None)"),
        (lambda t: t.update(coin=""), "data[0].coin", "expected a coin name"),
    ],
)
def test_bad_trade_names_the_field(mutate, field, reason):
    bad = json.loads(json.dumps(frame("trades")["data"]))
    mutate(bad[0])
    with pytest.raises(ParseError) as err:
        parse.parse_ws_trades(bad, RECV)
    assert err.value.field == field
    assert reason in str(err.value)
    assert "\n" not in str(err.value)


def test_crossed_book_is_rejected():
    data = {"coin": "X", "time": 1, "levels": [[{"px": "2", "sz": "1", "n": 1}], [{"px": "1", "sz": "1", "n": 1}]]}
    with pytest.raises(ParseError, match="crossed"):
        parse.parse_l2_book(data, RECV)


def test_non_object_payload():
    with pytest.raises(ParseError) as err:
        parse.parse_bbo("not json object", RECV)
    assert err.value.field == "data"


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"coin": "X", "time": 1, "levels": [[{"px": "2", "sz": "1"}], [5]]}, "data.levels[1][0]",
         "expected a JSON object (received 5)"),
        ({"coin": "X", "time": 1, "levels": [[{"px": "2"}], []]}, "data.levels[0][0].sz", "missing field"),
        ({"coin": "X", "time": 1, "levels": [[], [], []]}, "data.levels", "expected [bids, asks]"),
        ({"coin": "X", "time": 1, "levels": [[{"px": "0", "sz": "1"}], []]}, "data.levels[0][0].px",
         "expected a positive number"),
    ],
)
def test_bad_book_names_the_nested_field(data, field, reason):
    with pytest.raises(ParseError) as err:
        parse.parse_l2_book(data, RECV)
    assert err.value.field == field
    assert reason in str(err.value)


def test_bad_rest_row_names_its_index():
    rows = http("http_fundingHistory_BTC.json")
    rows[1] = {**rows[1], "fundingRate": None}
    with pytest.raises(ParseError) as err:
        parse.parse_funding_history(rows, RECV)
    assert str(err.value) == "response[1].fundingRate: expected a string (received None)"


def test_meta_and_asset_ctxs_give_the_listed_contexts_and_the_delisted_coins() -> None:
    universe = http("http_meta_mainnet_2026.json")["universe"]
    ctx = {"markPx": "10.0", "oraclePx": "10.1", "openInterest": "5", "funding": "0.0001", "dayNtlVlm": "1000",
           "prevDayPx": "9.5"}
    # A delisted asset keeps a stale, partly empty context: it must not be read.
    response = [{"universe": universe}, [{} if asset.get("isDelisted") else ctx for asset in universe]]
    delisted = [asset["name"] for asset in universe if asset.get("isDelisted")]
    assert "MATIC" in delisted
    assert parse.parse_delisted(response, 42) == [
        Delisting(id=f"{coin}:delisted", coin=coin, ts=42, recv_ts=42) for coin in delisted
    ]
    contexts = parse.parse_meta_and_asset_ctxs(response, 42)
    assert [c.coin for c in contexts] == [asset["name"] for asset in universe if not asset.get("isDelisted")]


def test_a_meta_answer_of_the_wrong_shape_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="expected \\[meta, assetCtxs\\]"):
        parse.parse_delisted([{"universe": []}], 1)
