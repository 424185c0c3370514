"""TP/SL trigger orders on the mark price and normalTpsl grouping."""

from __future__ import annotations

import pytest

from tests.support.wire_engine import ASSETS, T0, funded_engine
from venue.engine import Channel, Limit, OrderRequest, Tif, TpSl, Trigger

TRADER, MAKER = "0x" + "1" * 40, "0x" + "e" * 40
ETH = 1


def limit(is_buy, px, sz, tif="Gtc", reduce_only=False):
    return OrderRequest(ETH, is_buy, px, sz, reduce_only, Limit(Tif(tif)))


def trigger(is_buy, px, sz, trigger_px, tpsl, is_market=True, reduce_only=True):
    return OrderRequest(ETH, is_buy, px, sz, reduce_only,
                        Trigger(trigger_px, is_market, TpSl(tpsl)))


@pytest.fixture()
def engine():
    return funded_engine({MAKER: "1000000", TRADER: "100000"}, ASSETS[:2])


def open_long(engine, size="1"):
    engine.place_orders(MAKER, [limit(False, "2000", size)])
    assert "filled" in engine.place_orders(TRADER, [limit(True, "2000", size, "Ioc")])[0]


def test_stop_market_rests_and_fires_on_mark(engine):
    open_long(engine)
    status = engine.place_orders(TRADER, [trigger(False, "1800", "1", "1900", "sl")])
    oid = status[0]["resting"]["oid"]
    view = engine.frontend_open_orders(TRADER)[0]
    assert (view["isTrigger"], view["orderType"], view["triggerCondition"], view["triggerPx"], view["tif"]) == (
        True, "Stop Market", "Price below 1900.0", "1900.0", None)
    engine.place_orders(MAKER, [limit(True, "1890", "5")])
    engine.set_oracle("ETH", 1950.0)
    engine.advance(T0 + 1_000)
    # mark = median(1890, 1950, 2000) = 1950 > 1900: not yet
    assert engine.order_status(TRADER, oid)["order"]["status"] == "open"
    updates = []
    engine.add_listener(lambda e: updates.extend(e.data) if e.channel is Channel.ORDER_UPDATES else None)
    engine.set_oracle("ETH", 1890.0)
    engine.advance(T0 + 2_000)
    # mark = median(1890, 1890, 2000) = 1890 <= 1900: market sell (limit 1890 x 0.9) hits the 1890 bid
    assert [u["status"] for u in updates if u["order"]["oid"] == oid] == ["triggered", "filled"]
    assert engine.order_status(TRADER, oid)["order"]["status"] == "filled"
    assert engine.clearinghouse_state(TRADER)["assetPositions"] == []
    assert engine.user_fills(TRADER)[0]["px"] == "1890.0"


def test_take_profit_limit_becomes_resting_limit(engine):
    open_long(engine)
    oid = engine.place_orders(TRADER, [trigger(False, "2150", "1", "2100", "tp", is_market=False)])[0]["resting"]["oid"]
    assert engine.frontend_open_orders(TRADER)[0]["orderType"] == "Take Profit Limit"
    assert engine.frontend_open_orders(TRADER)[0]["triggerCondition"] == "Price above 2100.0"
    engine.set_oracle("ETH", 2100.0)
    engine.place_orders(MAKER, [limit(True, "2100", "0.1")])
    engine.advance(T0 + 1_000)
    # mark = median(2100, 2100, 2000) = 2100 >= 2100: becomes a Gtc sell at 2150 that rests
    assert engine.order_status(TRADER, oid)["order"]["status"] == "open"
    assert engine.l2_book("ETH")["levels"][1] == [{"px": "2150.0", "sz": "1.0", "n": 1}]


def test_reduce_only_trigger_without_position_is_rejected(engine):
    assert engine.place_orders(TRADER, [trigger(False, "1800", "1", "1900", "sl")]) == [
        {"error": "Reduce only order would increase position. asset=1"}]


def test_normal_tpsl_waits_for_parent_fill(engine):
    statuses = engine.place_orders(TRADER, [limit(True, "1990", "1"), trigger(False, "2190", "1", "2200", "tp"),
                                            trigger(False, "1790", "1", "1800", "sl")], grouping="normalTpsl")
    assert statuses[1:] == ["waitingForFill", "waitingForFill"]
    parent = statuses[0]["resting"]["oid"]
    view = engine.frontend_open_orders(TRADER)
    assert len(view) == 1 and len(view[0]["children"]) == 2
    engine.place_orders(MAKER, [limit(False, "1990", "1", "Ioc")])
    assert engine.order_status(TRADER, parent)["order"]["status"] == "filled"
    kinds = sorted(o["orderType"] for o in engine.frontend_open_orders(TRADER))
    assert kinds == ["Stop Market", "Take Profit Market"]


def test_normal_tpsl_filled_parent_arms_children(engine):
    engine.place_orders(MAKER, [limit(False, "2000", "1")])
    statuses = engine.place_orders(TRADER, [limit(True, "2000", "1", "Ioc"), trigger(False, "2190", "1", "2200", "tp"),
                                            trigger(False, "1790", "1", "1800", "sl")], grouping="normalTpsl")
    assert "filled" in statuses[0] and statuses[1:] == ["waitingForTrigger", "waitingForTrigger"]
    assert len(engine.open_orders(TRADER)) == 2


def test_canceling_parent_cancels_children(engine):
    statuses = engine.place_orders(TRADER, [limit(True, "1990", "1"), trigger(False, "2190", "1", "2200", "tp")],
                                   grouping="normalTpsl")
    parent = statuses[0]["resting"]["oid"]
    assert engine.cancel(TRADER, [(ETH, parent)]) == ["success"]
    history = engine.historical_orders(TRADER)
    assert [h["status"] for h in history] == ["canceled", "canceled"]
    assert engine.open_orders(TRADER) == []


def test_normal_tpsl_needs_children(engine):
    assert engine.place_orders(TRADER, [limit(True, "1990", "1")], grouping="normalTpsl") == [
        {"error": "Unexpected number of trigger orders"}]
