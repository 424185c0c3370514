"""Fees, closedPnl, margin arithmetic, leverage, transfers, agents and request budget — hand-computed."""

from __future__ import annotations

import json
import pickle
from decimal import Decimal

import pytest

from tests.helpers import FIXTURES
from tests.support.wire_engine import T0, funded_engine
from venue.engine import Builder, EngineError, Limit, OrderRequest, Tif

ALICE, BOB, MAKER = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "e" * 40
ETH = 1


def limit(asset, is_buy, px, sz, tif="Gtc", reduce_only=False):
    return OrderRequest(asset, is_buy, px, sz, reduce_only, Limit(Tif(tif)))


@pytest.fixture()
def engine():
    return funded_engine({MAKER: "10000000"})


def trade(engine, taker, is_buy, px, sz):
    engine.place_orders(MAKER, [limit(ETH, not is_buy, px, sz)])
    status = engine.place_orders(taker, [limit(ETH, is_buy, px, sz, "Ioc")])
    assert "filled" in status[0], status


def test_fees_taker_and_maker(engine):
    engine.fund(ALICE, "100000")
    trade(engine, ALICE, True, "2001", "0.5")
    # notional 0.5 x 2001 = 1000.5; taker 0.045% = 0.4502250; maker 0.015% = 0.1500750
    assert engine.user_fills(ALICE)[0]["fee"] == "0.450225"
    assert engine.user_fills(MAKER)[0]["fee"] == "0.150075"
    assert engine.user_fills(MAKER)[0]["crossed"] is False
    fees = engine.user_fees(ALICE)
    assert (fees["userCrossRate"], fees["userAddRate"]) == ("0.00045", "0.00015")
    assert fees["dailyUserVlm"][0]["userCross"] == "1000.5"
    recorded = json.loads((FIXTURES / "hyperliquid/http/http_userFees_2024.json").read_text())["response"]
    assert set(recorded) <= set(fees)
    assert set(recorded["feeSchedule"]) <= set(fees["feeSchedule"])


def test_fee_truncates_to_six_decimals():
    from venue.engine.fees import fee_of

    # recorded: 0.4152 x 2215.4 x 0.00025 = 0.22995852 charged 0.229958; 10 x 1.2856 x -0.00002 -> -0.000257
    assert fee_of(919_834_080, 25_000) == 229_958
    assert fee_of(12_856_000, -2_000) == -257


def test_closed_pnl_entry_price_and_flip(engine):
    engine.fund(ALICE, "100000")
    trade(engine, ALICE, True, "2000", "1")
    trade(engine, ALICE, False, "2100", "0.4")
    # close 0.4 of a 2000 long at 2100: 0.4 x (2100 - 2000) = 40, fee excluded
    last = engine.user_fills(ALICE)[0]
    assert (last["closedPnl"], last["dir"], last["startPosition"]) == ("40.0", "Close Long", "1.0")
    trade(engine, ALICE, True, "2200", "1")
    # entry = (0.6 x 2000 + 1 x 2200) / 1.6 = 3400 / 1.6 = 2125
    position = engine.clearinghouse_state(ALICE)["assetPositions"][0]["position"]
    assert (position["szi"], position["entryPx"]) == ("1.6", "2125.0")
    trade(engine, ALICE, False, "2000", "2")
    # flip: closes 1.6 at 2000 -> 1.6 x (2000 - 2125) = -200, opens a 0.4 short at 2000
    last = engine.user_fills(ALICE)[0]
    assert (last["closedPnl"], last["dir"], last["startPosition"]) == ("-200.0", "Long > Short", "1.6")
    position = engine.clearinghouse_state(ALICE)["assetPositions"][0]["position"]
    assert (position["szi"], position["entryPx"]) == ("-0.4", "2000.0")
    trade(engine, ALICE, True, "1900", "0.4")
    last = engine.user_fills(ALICE)[0]
    # short 0.4 from 2000 closed at 1900: 0.4 x (2000 - 1900) = 40
    assert (last["closedPnl"], last["dir"]) == ("40.0", "Close Short")
    fill = last
    assert list(fill) == ["coin", "px", "sz", "side", "time", "startPosition", "dir", "closedPnl", "hash", "oid",
                          "crossed", "fee", "tid", "feeToken", "twapId"]
    assert fill["hash"].startswith("0x") and len(fill["hash"]) == 66 and fill["feeToken"] == "USDC"


def test_cross_clearinghouse_state_hand_computed(engine):
    engine.fund(ALICE, "500")
    trade(engine, ALICE, True, "2000", "2")
    engine.set_oracle("ETH", 2020.0)
    state = engine.clearinghouse_state(ALICE)
    # book empty -> mark = median(oracle, oracle, last 2000) = 2020
    # fee 4000 x 0.00045 = 1.8 -> cash 498.2; uPnL 2 x (2020 - 2000) = 40; value 538.2
    assert state["marginSummary"] == {"accountValue": "538.2", "totalNtlPos": "4040.0", "totalRawUsd": "-3501.8",
                                      "totalMarginUsed": "202.0"}
    assert state["crossMarginSummary"] == state["marginSummary"]
    # maintenance 4040 / (2 x 25) = 80.8; withdrawable 538.2 - max(202, 404) = 134.2
    assert state["crossMaintenanceMarginUsed"] == "80.8"
    assert state["withdrawable"] == "134.2"
    position = state["assetPositions"][0]["position"]
    assert position["leverage"] == {"type": "cross", "value": 20}
    assert (position["positionValue"], position["unrealizedPnl"], position["marginUsed"]) == ("4040.0", "40.0", "202.0")
    # ROE = 40 / (2 x 2000 / 20) = 0.2
    assert position["returnOnEquity"] == "0.2"
    # liq = 2020 - (538.2 - 80.8) / 2 / (1 - 1/50) = 2020 - 233.36734693877551 = 1786.63265306
    assert position["liquidationPx"] == "1786.63265306"
    assert position["maxLeverage"] == 25
    recorded = json.loads((FIXTURES / "hyperliquid/http/http_clearinghouseState_cross_2026.json").read_text())["response"]
    assert list(state) == list(recorded)
    assert list(position) == list(recorded["assetPositions"][0]["position"])


def test_isolated_position_hand_computed(engine):
    engine.fund(ALICE, "1000")
    engine.update_leverage(ALICE, ETH, False, 10)
    trade(engine, ALICE, True, "2000", "1")
    engine.set_oracle("ETH", 2020.0)
    state = engine.clearinghouse_state(ALICE)
    # margin locked 2000 / 10 = 200; fee 0.9 -> cross cash 1000 - 200 - 0.9 = 799.1
    # isolated equity = 200 + uPnL 20 = 220; rawUsd = 200 - 2000 = -1800
    position = state["assetPositions"][0]["position"]
    assert position["leverage"] == {"type": "isolated", "value": 10, "rawUsd": "-1800.0"}
    assert position["marginUsed"] == "220.0"
    assert state["crossMarginSummary"]["accountValue"] == "799.1"
    assert state["marginSummary"]["accountValue"] == "1019.1"
    assert state["marginSummary"]["totalMarginUsed"] == "220.0"
    assert state["crossMaintenanceMarginUsed"] == "0.0"
    # liq = 2020 - (220 - 2020/50) / 1 / (1 - 0.02) = 2020 - 179.6/0.98 = 1836.73469388
    assert position["liquidationPx"] == "1836.73469388"
    engine.update_isolated_margin(ALICE, ETH, 5_000_000)
    after = engine.clearinghouse_state(ALICE)
    assert after["assetPositions"][0]["position"]["marginUsed"] == "225.0"
    assert after["crossMarginSummary"]["accountValue"] == "794.1"
    with pytest.raises(EngineError):
        engine.update_isolated_margin(ALICE, ETH, -100_000_000)
    with pytest.raises(EngineError):
        engine.update_leverage(ALICE, ETH, True, 10)


def test_update_leverage_bounds(engine):
    engine.fund(ALICE, "1000")
    engine.update_leverage(ALICE, ETH, True, 25)
    with pytest.raises(EngineError):
        engine.update_leverage(ALICE, ETH, True, 26)
    with pytest.raises(EngineError):
        engine.update_leverage(ALICE, ETH, True, 0)
    trade(engine, ALICE, True, "2000", "1")
    assert engine.clearinghouse_state(ALICE)["assetPositions"][0]["position"]["leverage"] == {"type": "cross",
                                                                                             "value": 25}


def test_usd_class_transfer_and_send(engine):
    engine.fund(ALICE, "100")
    engine.usd_class_transfer(ALICE, "1.23", False)
    assert engine.spot_clearinghouse_state(ALICE) == {
        "balances": [{"coin": "USDC", "token": 0, "hold": "0.0", "total": "1.23", "entryNtl": "0.0"}]}
    assert engine.clearinghouse_state(ALICE)["marginSummary"]["accountValue"] == "98.77"
    ledger = engine.user_non_funding_ledger_updates(ALICE, 0)
    assert [row["delta"] for row in ledger] == [{"type": "deposit", "usdc": "100.0"},
                                                {"type": "accountClassTransfer", "usdc": "1.23", "toPerp": False}]
    engine.usd_class_transfer(ALICE, "0.23", True)
    assert engine.spot_clearinghouse_state(ALICE)["balances"][0]["total"] == "1.0"
    with pytest.raises(EngineError):
        engine.usd_class_transfer(ALICE, "5", True)
    engine.usd_send(ALICE, BOB, "10")
    assert engine.is_user(BOB)
    assert engine.clearinghouse_state(BOB)["marginSummary"]["accountValue"] == "10.0"
    assert engine.user_non_funding_ledger_updates(BOB, 0)[0]["delta"]["type"] == "internalTransfer"
    with pytest.raises(EngineError):
        engine.usd_send(ALICE, BOB, "1000")


def test_agents(engine):
    engine.fund(ALICE, "100")
    first, second = "0x" + "1" * 40, "0x" + "2" * 40
    assert engine.resolve_signer(first) is None
    assert engine.resolve_signer(ALICE.upper().replace("0X", "0x")) == ALICE
    engine.approve_agent(ALICE, first, None, None)
    assert engine.resolve_signer(first) == ALICE
    engine.approve_agent(ALICE, second, None, None)
    assert engine.resolve_signer(first) is None and engine.resolve_signer(second) == ALICE
    for index, name in enumerate(("one", "two", "three")):
        engine.approve_agent(ALICE, f"0x{index + 3:040x}", name, T0 + 1_000)
    with pytest.raises(EngineError):
        engine.approve_agent(ALICE, "0x" + "9" * 40, "four", None)
    agents = engine.extra_agents(ALICE)
    assert [a["name"] for a in agents] == ["one", "two", "three"]
    assert agents[0] == {"name": "one", "address": f"0x{3:040x}", "validUntil": T0 + 1_000}
    engine.advance(T0 + 2_000)
    assert engine.resolve_signer(f"0x{3:040x}") is None
    with pytest.raises(EngineError):
        engine.approve_agent("0x" + "7" * 40, first, None, None)


def test_user_rate_limit_counts_orders_and_volume(engine):
    engine.fund(ALICE, "100000")
    engine.place_orders(ALICE, [limit(ETH, True, "1990", "1"), limit(ETH, True, "1980", "1")])
    trade(engine, ALICE, True, "2000", "1.5")
    limits = engine.user_rate_limit(ALICE)
    # 2 + 1 orders; volume 3000 USDC -> cap 10000 + 3000
    assert limits["nRequestsUsed"] == 3
    assert limits["cumVlm"] == "3000.0"
    assert limits["nRequestsCap"] == 13_000
    recorded = json.loads((FIXTURES / "hyperliquid/http/http_userRateLimit_2025.json").read_text())["response"]
    assert set(recorded) <= set(limits)


def test_value_is_conserved_net_of_fees(engine):
    engine.fund(ALICE, "5000")
    engine.fund(BOB, "5000")
    trade(engine, ALICE, True, "2000", "1")
    trade(engine, BOB, False, "2010", "0.5")
    trade(engine, ALICE, False, "1995", "0.3")
    users = (ALICE, BOB, MAKER)
    value = sum(Decimal(engine.clearinghouse_state(u)["marginSummary"]["accountValue"]) for u in users)
    fees = sum(Decimal(f["fee"]) for u in users for f in engine.user_fills(u))
    assert value + fees == Decimal("10010000")


def test_builder_fee_is_added_to_the_taker_fee(engine):
    engine.fund(ALICE, "100000")
    builder = "0x" + "9" * 40
    engine.fund(builder, "100")
    engine.approve_builder_fee(ALICE, builder, 10)
    engine.place_orders(MAKER, [limit(ETH, False, "2000", "1")])
    engine.place_orders(ALICE, [limit(ETH, True, "2000", "1", "Ioc")], builder=Builder(builder, 10))
    # f = 10 tenths of a bp = 0.01%: 2000 x 0.0001 = 0.2 on top of the 0.9 taker fee
    fill = engine.user_fills(ALICE)[0]
    assert (fill["fee"], fill["builderFee"]) == ("1.1", "0.2")
    assert engine.clearinghouse_state(builder)["marginSummary"]["accountValue"] == "100.2"


def test_builder_approvals_are_checked_before_any_order_and_survive_a_pickle(engine):
    engine.fund(ALICE, "100000")
    builder = "0x" + "9" * 40
    engine.fund(builder, "100")
    engine.place_orders(MAKER, [limit(ETH, False, "2000", "1")])
    with pytest.raises(EngineError, match="^Builder fee has not been approved[.]$"):
        engine.place_orders(ALICE, [limit(ETH, True, "2000", "1", "Ioc")], builder=Builder(builder, 0))
    assert engine.user_fills(ALICE) == [] and engine.historical_orders(ALICE) == []
    engine.approve_builder_fee(ALICE, builder.upper().replace("0X", "0x"), 5)
    restored = pickle.loads(pickle.dumps(engine))
    assert restored.max_builder_fee(ALICE, builder) == 5 and restored.max_builder_fee(builder, ALICE) == 0
    with pytest.raises(EngineError, match="^Builder fee has not been approved[.]$"):
        restored.place_orders(ALICE, [limit(ETH, True, "2000", "1", "Ioc")], builder=Builder(builder, 6))
    with pytest.raises(EngineError, match="^Max fee rate 1.001% exceeds the maximum of 1%[.]$"):
        restored.approve_builder_fee(ALICE, builder, 1001)
