"""Order entry, matching and cancel semantics of the venue engine, with the exact exchange strings."""

from __future__ import annotations

import pytest

from tests.support.wire_engine import T0, funded_engine
from venue.engine import EngineError, Limit, OrderRequest, Tif

ALICE, BOB, CAROL = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40
ETH = 1


def limit(asset, is_buy, px, sz, tif="Gtc", reduce_only=False, cloid=None):
    return OrderRequest(asset, is_buy, px, sz, reduce_only, Limit(Tif(tif)), cloid)


@pytest.fixture()
def engine():
    return funded_engine(dict.fromkeys((ALICE, BOB, CAROL), "100000"))


def test_gtc_rests_and_is_listed(engine):
    status = engine.place_orders(ALICE, [limit(ETH, True, "1990", "1", cloid="0x" + "0" * 31 + "7")])
    oid = status[0]["resting"]["oid"]
    assert status == [{"resting": {"oid": oid, "cloid": "0x" + "0" * 31 + "7"}}]
    assert engine.open_orders(ALICE) == [{"coin": "ETH", "side": "B", "limitPx": "1990.0", "sz": "1.0", "oid": oid,
                                          "timestamp": T0, "origSz": "1.0", "cloid": "0x" + "0" * 31 + "7"}]
    by_oid = engine.order_status(ALICE, oid)
    assert by_oid["status"] == "order" and by_oid["order"]["status"] == "open"
    assert engine.order_status(ALICE, "0x" + "0" * 31 + "7") == by_oid
    assert engine.order_status(ALICE, "0x" + "0" * 31 + "8") == {"status": "unknownOid"}
    assert engine.order_status(BOB, oid) == {"status": "unknownOid"}


def test_crossing_order_fills_at_maker_price_and_reports_avg(engine):
    engine.place_orders(ALICE, [limit(ETH, False, "2001", "0.5"), limit(ETH, False, "2002", "0.5")])
    status = engine.place_orders(BOB, [limit(ETH, True, "2005", "0.8", "Ioc")])
    # 0.5 @ 2001 + 0.3 @ 2002 = 1000.5 + 600.6 = 1601.1 over 0.8 -> 2001.375
    assert status[0]["filled"]["totalSz"] == "0.8"
    assert status[0]["filled"]["avgPx"] == "2001.375"
    fills = engine.user_fills(BOB)
    assert [(f["px"], f["sz"], f["crossed"], f["dir"]) for f in fills] == [
        ("2002.0", "0.3", True, "Open Long"), ("2001.0", "0.5", True, "Open Long")]
    assert engine.l2_book("ETH")["levels"] == [[], [{"px": "2002.0", "sz": "0.2", "n": 1}]]


def test_partial_gtc_rests_remainder(engine):
    engine.place_orders(ALICE, [limit(ETH, False, "2001", "0.5")])
    status = engine.place_orders(BOB, [limit(ETH, True, "2001", "2")])
    oid = status[0]["resting"]["oid"]
    assert engine.open_orders(BOB)[0]["sz"] == "1.5" and engine.open_orders(BOB)[0]["origSz"] == "2.0"
    assert engine.order_status(BOB, oid)["order"]["status"] == "open"


def test_ioc_without_liquidity_is_rejected_with_exact_string(engine):
    status = engine.place_orders(BOB, [limit(ETH, True, "1999", "1", "Ioc")])
    assert status == [{"error": "Order could not immediately match against any resting orders. asset=1"}]
    assert engine.historical_orders(BOB)[0]["status"] == "iocCancelRejected"
    assert isinstance(engine.historical_orders(BOB)[0]["order"]["oid"], int)


def test_partial_ioc_reports_filled_and_cancels_rest(engine):
    engine.place_orders(ALICE, [limit(ETH, False, "2001", "0.5")])
    status = engine.place_orders(BOB, [limit(ETH, True, "2001", "2", "Ioc")])
    assert status[0]["filled"]["totalSz"] == "0.5"
    assert engine.open_orders(BOB) == []
    assert engine.l2_book("ETH")["levels"] == [[], []]


def test_alo_that_would_cross_is_rejected_with_bbo(engine):
    engine.place_orders(ALICE, [limit(ETH, False, "2001", "1"), limit(ETH, True, "1999.5", "1")])
    status = engine.place_orders(BOB, [limit(ETH, True, "2001", "1", "Alo")])
    assert status == [{"error": "Post only order would have immediately matched, bbo was 1999.5@2001.0. asset=1"}]
    assert engine.historical_orders(BOB)[0]["status"] == "badAloPxRejected"
    assert "resting" in engine.place_orders(BOB, [limit(ETH, True, "2000", "1", "Alo")])[0]


@pytest.mark.parametrize(("px", "sz", "message", "status"), [
    ("2000.12", "1", "Price must be divisible by tick size. asset=1", "tickRejected"),
    ("2000.001", "1", "Price must be divisible by tick size. asset=1", "tickRejected"),
    ("2000", "0.00001", "Order has invalid size.", "rejected"),
    ("2000", "0", "Order has invalid size.", "rejected"),
    ("0", "1", "Order has invalid price.", "rejected"),
    ("abc", "1", "Order has invalid price.", "rejected"),
    ("2000", "0.0049", "Order must have minimum value of $10. asset=1", "minTradeNtlRejected"),
    ("3601", "1", "Order price cannot be more than 80% away from the reference price", "oracleRejected"),
])
def test_rule_rejections_have_exact_strings(engine, px, sz, message, status):
    assert engine.place_orders(BOB, [limit(ETH, True, px, sz)]) == [{"error": message}]
    assert engine.historical_orders(BOB)[0]["status"] == status


def test_boundary_values_are_accepted(engine):
    # 0.005 ETH x 2000 = exactly $10; |3600 - 2000| = 1600 = 80% of 2000 is not "more than" 80%
    assert "resting" in engine.place_orders(BOB, [limit(ETH, True, "2000", "0.005")])[0]
    assert "resting" in engine.place_orders(BOB, [limit(ETH, False, "3600", "0.01")])[0]
    # integer prices are valid whatever their significant figures (BTC, 1 decimal allowed)
    engine.set_oracle("BTC", 123456.0)
    assert "resting" in engine.place_orders(BOB, [limit(0, True, "123456", "0.001")])[0]
    assert engine.place_orders(BOB, [limit(0, True, "12345.6", "0.001")]) == [
        {"error": "Price must be divisible by tick size. asset=0"}]


def test_insufficient_margin(engine):
    engine.fund("0x" + "d" * 40, "50")
    # 1 ETH at 2000 with the default 20x needs 100 USDC of margin; only 50 deposited
    assert engine.place_orders("0x" + "d" * 40, [limit(ETH, True, "2000", "1")]) == [
        {"error": "Insufficient margin to place order. asset=1"}]
    assert engine.historical_orders("0x" + "d" * 40)[0]["status"] == "perpMarginRejected"
    assert "resting" in engine.place_orders("0x" + "d" * 40, [limit(ETH, True, "2000", "0.4")])[0]
    # 0.4 ETH rests holding 40 USDC; another 0.2 ETH (20 USDC) no longer fits
    assert engine.place_orders("0x" + "d" * 40, [limit(ETH, True, "2000", "0.2")]) == [
        {"error": "Insufficient margin to place order. asset=1"}]


def test_reduce_only_rules(engine):
    assert engine.place_orders(BOB, [limit(ETH, False, "2000", "1", "Ioc", reduce_only=True)]) == [
        {"error": "Reduce only order would increase position. asset=1"}]
    assert engine.historical_orders(BOB)[0]["status"] == "reduceOnlyRejected"
    engine.place_orders(ALICE, [limit(ETH, False, "2000", "0.5")])
    engine.place_orders(BOB, [limit(ETH, True, "2000", "0.5", "Ioc")])
    engine.place_orders(CAROL, [limit(ETH, True, "1990", "3")])
    # a reduce-only sell of 1 against a 0.5 long is capped to 0.5
    status = engine.place_orders(BOB, [limit(ETH, False, "1990", "1", "Ioc", reduce_only=True)])
    assert status[0]["filled"]["totalSz"] == "0.5"
    assert engine.clearinghouse_state(BOB)["assetPositions"] == []
    assert engine.place_orders(BOB, [limit(ETH, True, "2000", "1", reduce_only=True)]) == [
        {"error": "Reduce only order would increase position. asset=1"}]


def test_resting_reduce_only_is_canceled_when_position_closes(engine):
    engine.place_orders(ALICE, [limit(ETH, False, "2000", "1")])
    engine.place_orders(BOB, [limit(ETH, True, "2000", "1", "Ioc")])
    oid = engine.place_orders(BOB, [limit(ETH, False, "2100", "1", reduce_only=True)])[0]["resting"]["oid"]
    engine.place_orders(CAROL, [limit(ETH, True, "1990", "1")])
    engine.place_orders(BOB, [limit(ETH, False, "1990", "1", "Ioc")])
    assert engine.order_status(BOB, oid)["order"]["status"] == "reduceOnlyCanceled"
    assert engine.open_orders(BOB) == []


def test_self_trade_cancels_resting_order_without_fill(engine):
    oid = engine.place_orders(ALICE, [limit(ETH, False, "2001", "1")])[0]["resting"]["oid"]
    status = engine.place_orders(ALICE, [limit(ETH, True, "2001", "1", "Ioc")])
    assert status == [{"error": "Order could not immediately match against any resting orders. asset=1"}]
    assert engine.order_status(ALICE, oid)["order"]["status"] == "selfTradeCanceled"
    assert engine.user_fills(ALICE) == []
    assert engine.recent_trades("ETH") == []


def test_cancel_and_cancel_by_cloid(engine):
    oid = engine.place_orders(ALICE, [limit(ETH, True, "1990", "1")])[0]["resting"]["oid"]
    cloid = "0x" + "1" * 32
    engine.place_orders(ALICE, [limit(ETH, True, "1980", "1", cloid=cloid)])
    assert engine.cancel(BOB, [(ETH, oid)]) == [
        {"error": "Order was never placed, already canceled, or filled. asset=1"}]
    assert engine.cancel(ALICE, [(ETH, oid)]) == ["success"]
    assert engine.cancel(ALICE, [(ETH, oid)]) == [
        {"error": "Order was never placed, already canceled, or filled. asset=1"}]
    assert engine.order_status(ALICE, oid)["order"]["status"] == "canceled"
    assert engine.cancel_by_cloid(ALICE, [(ETH, cloid)]) == ["success"]
    assert engine.open_orders(ALICE) == [] and engine.l2_book("ETH")["levels"] == [[], []]


def test_batch_modify_assigns_new_oid_and_cancels_old(engine):
    old = engine.place_orders(ALICE, [limit(ETH, True, "1990", "1")])[0]["resting"]["oid"]
    status = engine.batch_modify(ALICE, [(old, limit(ETH, True, "1995", "2"))])
    new = status[0]["resting"]["oid"]
    assert new != old
    assert engine.order_status(ALICE, old)["order"]["status"] == "canceled"
    assert engine.open_orders(ALICE)[0]["limitPx"] == "1995.0" and engine.open_orders(ALICE)[0]["sz"] == "2.0"
    assert engine.batch_modify(ALICE, [(old, limit(ETH, True, "1995", "2"))]) == [
        {"error": "Cannot modify canceled or filled order"}]


def test_schedule_cancel(engine):
    engine.place_orders(ALICE, [limit(ETH, True, "1990", "1")])
    with pytest.raises(EngineError):
        engine.schedule_cancel(ALICE, T0 + 1_000)
    engine.schedule_cancel(ALICE, T0 + 10_000)
    engine.advance(T0 + 9_999)
    assert len(engine.open_orders(ALICE)) == 1
    engine.advance(T0 + 10_000)
    assert engine.open_orders(ALICE) == []
    assert engine.historical_orders(ALICE)[0]["status"] == "scheduledCancel"
    engine.place_orders(ALICE, [limit(ETH, True, "1990", "1")])
    engine.schedule_cancel(ALICE, T0 + 20_000)
    engine.schedule_cancel(ALICE, None)
    engine.advance(T0 + 30_000)
    assert len(engine.open_orders(ALICE)) == 1


def test_frontend_and_historical_order_shape_matches_fixture(engine):
    import json

    from tests.helpers import FIXTURES

    recorded = json.loads((FIXTURES / "hyperliquid/http/http_orderStatus_open_alo_2025.json").read_text())["response"]
    oid = engine.place_orders(ALICE, [limit(ETH, True, "1990", "1", "Alo")])[0]["resting"]["oid"]
    ours = engine.order_status(ALICE, oid)
    assert list(ours) == list(recorded)
    assert list(ours["order"]) == list(recorded["order"])
    assert list(ours["order"]["order"]) == list(recorded["order"]["order"])
    for key, value in recorded["order"]["order"].items():
        assert type(ours["order"]["order"][key]) is type(value), key
    assert ours["order"]["order"]["tif"] == "Alo" and ours["order"]["order"]["orderType"] == "Limit"


def test_unknown_and_spot_assets(engine):
    assert engine.place_orders(BOB, [limit(7, True, "1", "10")]) == [{"error": "Unknown asset. asset=7"}]
    assert "error" in engine.place_orders(BOB, [limit(10000, True, "1", "10")])[0]


def test_price_time_priority_within_a_level(engine):
    first = engine.place_orders(ALICE, [limit(ETH, False, "2001", "0.5")])[0]["resting"]["oid"]
    second = engine.place_orders(CAROL, [limit(ETH, False, "2001", "0.5")])[0]["resting"]["oid"]
    better = engine.place_orders(CAROL, [limit(ETH, False, "2000.5", "0.5")])[0]["resting"]["oid"]
    engine.place_orders(BOB, [limit(ETH, True, "2001", "1.2", "Ioc")])
    maker_oids = [f["oid"] for user in (ALICE, CAROL) for f in engine.user_fills(user)]
    assert sorted(maker_oids) == sorted([first, second, better])
    by_tid = sorted(((f["tid"], f["oid"]) for user in (ALICE, CAROL) for f in engine.user_fills(user)))
    assert [oid for _, oid in by_tid] == [better, first, second]
    assert engine.l2_book("ETH")["levels"][1] == [{"px": "2001.0", "sz": "0.3", "n": 1}]


def test_old_finished_orders_are_forgotten_but_open_ones_kept(engine, monkeypatch):
    import venue.engine.entry as engine_module

    monkeypatch.setattr(engine_module, "ORDER_RETENTION", 3)
    keep = engine.place_orders(ALICE, [limit(ETH, True, "1900", "1")])[0]["resting"]["oid"]
    rejected = [engine.place_orders(ALICE, [limit(ETH, True, "1900", "0.0001")]) for _ in range(8)]
    assert all("error" in status[0] for status in rejected)
    history = engine.historical_orders(ALICE)
    assert len(history) <= 7 and history[-1]["order"]["oid"] == keep
    assert engine.order_status(ALICE, keep)["order"]["status"] == "open"
    assert engine.order_status(ALICE, keep + 1) == {"status": "unknownOid"}
