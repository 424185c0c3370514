"""TC-01..TC-19, TC-26, TC-27: bootstrap, orders, fills, margin and state, via the unchanged SDK over HTTP."""

from __future__ import annotations

from hyperliquid.utils import constants
from hyperliquid.utils.types import Cloid

from tests.conformance.conftest import ASSETS, fixture, same_shape
from tests.helpers import eventually

ETH = 1
FAR_BELOW = 1500.0


def statuses(response: dict) -> list:
    assert response["status"] == "ok", response
    return response["response"]["data"]["statuses"]


def rest_far_bid(exchange, cloid=None) -> int:
    """Rest a 0.1 ETH GTC bid far below the market and return its oid."""
    (status,) = statuses(exchange.order("ETH", True, 0.1, FAR_BELOW, {"limit": {"tif": "Gtc"}}, cloid=cloid))
    return status["resting"]["oid"]


def test_tc01_info_bootstrap_sends_spot_meta_then_meta(venue):
    info = venue.info()
    assert [payload for _, payload in venue.requests] == [{"type": "spotMeta"}, {"type": "meta", "dex": ""}]
    assert info.name_to_asset("BTC") == 0
    assert constants.MAINNET_API_URL != venue.url


def test_tc02_exchange_bootstrap_opens_no_websocket(venue):
    exchange = venue.exchange(venue.wallet())
    assert [payload["type"] for _, payload in venue.requests] == ["spotMeta", "meta"]
    assert exchange.info.ws_manager is None


def test_tc03_asset_mapping_follows_universe_and_spot_offsets(venue):
    info = venue.info()
    for index, spec in enumerate(ASSETS):
        assert info.name_to_asset(spec.name) == index
    assert info.name_to_asset("PURR/USDC") == 10_000
    meta = info.meta()
    assert not same_shape(meta, fixture("http/http_meta_mainnet_2026.json"))


def test_tc04_new_account_has_equity_like_example_setup(venue):
    wallet = venue.wallet(1_000.0)
    info = venue.info()
    state = info.user_state(wallet.address)
    spot = info.spot_user_state(wallet.address)
    assert float(state["marginSummary"]["accountValue"]) == 1_000.0
    assert spot == {"balances": []}


def test_tc05_resting_gtc_shows_everywhere(venue):
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    info = venue.info()
    oid = rest_far_bid(exchange)
    assert isinstance(oid, int)
    (open_order,) = info.open_orders(wallet.address)
    assert open_order["oid"] == oid and open_order["limitPx"] == "1500.0" and open_order["sz"] == "0.1"
    assert not same_shape(info.open_orders(wallet.address), fixture("http/http_openOrders_2023.json"))
    (frontend,) = info.frontend_open_orders(wallet.address)
    assert frontend["orderType"] == "Limit" and frontend["tif"] == "Gtc" and frontend["isTrigger"] is False
    assert not same_shape([frontend], fixture("http/http_frontendOpenOrders_trigger_2023.json"))
    order_status = info.query_order_by_oid(wallet.address, oid)
    assert order_status["status"] == "order" and order_status["order"]["status"] == "open"
    assert not same_shape(order_status, fixture("http/http_orderStatus_open_alo_2025.json"))


def test_tc06_cloid_lookup_and_cancel_by_cloid(venue):
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    info = venue.info()
    cloid = Cloid.from_int(7)
    oid = rest_far_bid(exchange, cloid)
    found = info.query_order_by_cloid(wallet.address, cloid)
    assert found["order"]["order"]["oid"] == oid and found["order"]["order"]["cloid"] == cloid.to_raw()
    assert info.query_order_by_cloid(wallet.address, Cloid.from_int(8)) == {"status": "unknownOid"}
    assert statuses(exchange.cancel_by_cloid("ETH", cloid)) == ["success"]
    assert info.open_orders(wallet.address) == []


def test_tc07_cancel_then_cancel_again(venue):
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    oid = rest_far_bid(exchange)
    assert statuses(exchange.cancel("ETH", oid)) == ["success"]
    assert statuses(exchange.cancel("ETH", oid)) == [
        {"error": f"Order was never placed, already canceled, or filled. asset={ETH}"}]
    assert venue.info().query_order_by_oid(wallet.address, oid)["order"]["status"] == "canceled"


def test_tc08_modify_by_oid_and_by_cloid(venue):
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    info = venue.info()
    first = rest_far_bid(exchange)
    (modified,) = statuses(exchange.modify_order(first, "ETH", True, 0.2, 1505.0, {"limit": {"tif": "Gtc"}}))
    second = modified["resting"]["oid"]
    assert info.query_order_by_oid(wallet.address, first)["order"]["status"] == "canceled"
    cloid = Cloid.from_int(99)
    (modified,) = statuses(exchange.modify_order(second, "ETH", True, 0.2, 1506.0, {"limit": {"tif": "Gtc"}},
                                                 cloid=cloid))
    assert "resting" in modified
    (again,) = statuses(exchange.modify_order(cloid, "ETH", True, 0.3, 1507.0, {"limit": {"tif": "Gtc"}}))
    assert "resting" in again
    (only,) = info.open_orders(wallet.address)
    assert (only["limitPx"], only["sz"]) == ("1507.0", "0.3")
    (dead,) = statuses(exchange.modify_order(first, "ETH", True, 0.2, 1505.0, {"limit": {"tif": "Gtc"}}))
    assert dead == {"error": "Cannot modify canceled or filled order"}


def test_tc09_alo_that_would_cross_is_rejected(venue):
    venue.seed_book()
    exchange = venue.exchange(venue.wallet())
    (status,) = statuses(exchange.order("ETH", True, 0.1, 2001.0, {"limit": {"tif": "Alo"}}))
    assert status["error"].startswith("Post only order would have immediately matched, bbo was 1999.0@2001.0")


def test_tc10_ioc_without_liquidity(venue):
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    (status,) = statuses(exchange.order("ETH", True, 0.1, 2000.0, {"limit": {"tif": "Ioc"}}))
    assert status == {"error": f"Order could not immediately match against any resting orders. asset={ETH}"}
    (historical,) = venue.info().historical_orders(wallet.address)
    assert historical["status"] == "iocCancelRejected"
    assert not same_shape([historical], fixture("http/http_historicalOrders_iocCancelRejected_2025.json"))


def test_tc11_tc12_market_open_and_close_round_trip(venue):
    venue.seed_book(bid="1999", ask="2001", sz="5")
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    info = venue.info()
    (opened,) = statuses(exchange.market_open("ETH", True, 0.5))
    assert opened["filled"]["totalSz"] == "0.5" and float(opened["filled"]["avgPx"]) == 2001.0
    (fill,) = info.user_fills(wallet.address)
    assert fill["crossed"] is True and fill["dir"] == "Open Long" and fill["closedPnl"] == "0.0"
    assert abs(float(fill["fee"]) - 0.5 * 2001.0 * 0.00045) < 1e-6
    assert not same_shape([fill], fixture("http/http_userFills_spot_2024.json"))
    (closed,) = statuses(exchange.market_close("ETH"))
    assert closed["filled"]["totalSz"] == "0.5"
    close_fill = info.user_fills(wallet.address)[0]
    assert close_fill["dir"] == "Close Long"
    assert abs(float(close_fill["closedPnl"]) - 0.5 * (1999.0 - 2001.0)) < 1e-6
    assert info.user_state(wallet.address)["assetPositions"] == []
    sent = len(venue.requests)
    assert exchange.market_close("ETH") is None
    assert [payload["type"] for _, payload in venue.requests[sent:]] == ["clearinghouseState"]


def test_tc13_min_notional_tick_and_size_precision(venue):
    exchange = venue.exchange(venue.wallet())
    gtc = {"limit": {"tif": "Gtc"}}
    assert statuses(exchange.order("ETH", True, 0.001, FAR_BELOW, gtc)) == [
        {"error": f"Order must have minimum value of $10. asset={ETH}"}]
    assert statuses(exchange.order("ETH", True, 0.1, 1500.123, gtc)) == [
        {"error": f"Price must be divisible by tick size. asset={ETH}"}]
    assert statuses(exchange.order("ETH", True, 0.00001, FAR_BELOW, gtc)) == [{"error": "Order has invalid size."}]


def test_tc14_reduce_only(venue):
    venue.seed_book(bid="1999", ask="2001", sz="5")
    exchange = venue.exchange(venue.wallet())
    assert statuses(exchange.order("ETH", False, 0.1, 1990.0, {"limit": {"tif": "Ioc"}}, reduce_only=True)) == [
        {"error": f"Reduce only order would increase position. asset={ETH}"}]
    statuses(exchange.market_open("ETH", True, 0.2))
    (capped,) = statuses(exchange.order("ETH", False, 0.5, 1990.0, {"limit": {"tif": "Ioc"}}, reduce_only=True))
    assert capped["filled"]["totalSz"] == "0.2"


def test_tc15_insufficient_margin(venue):
    venue.seed_book(bid="1999", ask="2001", sz="50")
    exchange = venue.exchange(venue.wallet(100.0))
    assert statuses(exchange.order("ETH", True, 10.0, 1900.0, {"limit": {"tif": "Gtc"}})) == [
        {"error": f"Insufficient margin to place order. asset={ETH}"}]


def test_tc16_trigger_order_rests_and_shows_as_stop_market(venue):
    venue.seed_book(bid="1999", ask="2001", sz="5")
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    statuses(exchange.market_open("ETH", True, 0.2))
    stop = {"trigger": {"triggerPx": 1800.0, "isMarket": True, "tpsl": "sl"}}
    (status,) = statuses(exchange.order("ETH", False, 0.2, 1700.0, stop, reduce_only=True))
    oid = status["resting"]["oid"]
    (order,) = venue.info().frontend_open_orders(wallet.address)
    assert order["oid"] == oid and order["isTrigger"] is True and order["orderType"] == "Stop Market"
    assert order["triggerCondition"] == "Price below 1800.0" and order["triggerPx"] == "1800.0"
    assert not same_shape([order], fixture("http/http_frontendOpenOrders_trigger_2023.json"))


def test_tc17_normal_tpsl_group(venue):
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    gtc = {"limit": {"tif": "Gtc"}}
    group = [
        {"coin": "ETH", "is_buy": True, "sz": 0.1, "limit_px": FAR_BELOW, "order_type": gtc, "reduce_only": False},
        {"coin": "ETH", "is_buy": False, "sz": 0.1, "limit_px": 2500.0, "reduce_only": True,
         "order_type": {"trigger": {"triggerPx": 2500.0, "isMarket": True, "tpsl": "tp"}}},
        {"coin": "ETH", "is_buy": False, "sz": 0.1, "limit_px": 1300.0, "reduce_only": True,
         "order_type": {"trigger": {"triggerPx": 1400.0, "isMarket": True, "tpsl": "sl"}}},
    ]
    result = statuses(exchange.bulk_orders(group, grouping="normalTpsl"))
    assert "resting" in result[0] and result[1:] == ["waitingForFill", "waitingForFill"]
    assert statuses(exchange.cancel("ETH", result[0]["resting"]["oid"])) == ["success"]
    assert venue.info().frontend_open_orders(wallet.address) == []
    recorded = fixture("http/http_exchange_normalTpsl_2025.json")["response"]["data"]["statuses"]
    assert [type(s) for s in result[1:]] == [type(s) for s in recorded[1:]]


def test_tc18_leverage_and_isolated_margin(venue):
    venue.seed_book(bid="1999", ask="2001", sz="5")
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    info = venue.info()
    assert exchange.update_leverage(21, "ETH") == {"status": "ok", "response": {"type": "default"}}
    assert exchange.update_leverage(26, "ETH")["status"] == "err"
    assert exchange.update_leverage(10, "ETH", is_cross=False)["status"] == "ok"
    statuses(exchange.market_open("ETH", True, 0.5))
    (position,) = info.user_state(wallet.address)["assetPositions"]
    leverage = position["position"]["leverage"]
    assert leverage["type"] == "isolated" and leverage["value"] == 10 and "rawUsd" in leverage
    before = float(position["position"]["marginUsed"])
    assert exchange.update_isolated_margin(1, "ETH")["status"] == "ok"
    (position,) = info.user_state(wallet.address)["assetPositions"]
    assert abs(float(position["position"]["marginUsed"]) - before - 1.0) < 1e-6


def test_tc19_clearinghouse_state_arithmetic_and_shape(venue):
    venue.seed_book(bid="1999", ask="2001", sz="5")
    wallet = venue.wallet(10_000.0)
    exchange = venue.exchange(wallet)
    statuses(exchange.market_open("ETH", True, 1.0))
    state = venue.info().user_state(wallet.address)
    assert not same_shape(state, fixture("http/http_clearinghouseState_cross_2026.json"))
    (entry,) = state["assetPositions"]
    position = entry["position"]
    szi, entry_px = float(position["szi"]), float(position["entryPx"])
    mark = float(position["positionValue"]) / abs(szi)
    assert abs(float(position["unrealizedPnl"]) - szi * (mark - entry_px)) < 1e-6
    assert abs(float(position["marginUsed"]) - float(position["positionValue"]) / 20) < 1e-6
    roe = float(position["unrealizedPnl"]) / (abs(szi) * entry_px / 20)
    assert abs(float(position["returnOnEquity"]) - roe) < 1e-6
    summary = state["marginSummary"]
    assert abs(float(summary["accountValue"]) - (float(summary["totalRawUsd"]) + szi * mark)) < 1e-6
    assert abs(float(state["crossMaintenanceMarginUsed"]) - float(position["positionValue"]) / (2 * 25)) < 1e-6


def test_tc26_usd_class_transfer_moves_perp_to_spot(venue):
    wallet = venue.wallet(1_000.0)
    exchange = venue.exchange(wallet)
    info = venue.info()
    assert exchange.usd_class_transfer(1.23, False) == {"status": "ok", "response": {"type": "default"}}
    (balance,) = info.spot_user_state(wallet.address)["balances"]
    assert balance["coin"] == "USDC" and float(balance["total"]) == 1.23
    assert float(info.user_state(wallet.address)["marginSummary"]["accountValue"]) == 1_000.0 - 1.23
    updates = info.user_non_funding_ledger_updates(wallet.address, 0)
    assert updates[-1]["delta"] == {"type": "accountClassTransfer", "usdc": "1.23", "toPerp": False}
    assert not same_shape(updates[-1:],
                          fixture("http/http_userNonFundingLedgerUpdates_accountClassTransfer_2025.json"))


def test_tc27_self_trade_cancels_the_resting_order(venue):
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    info = venue.info()
    (resting,) = statuses(exchange.order("ETH", False, 0.1, 2100.0, {"limit": {"tif": "Gtc"}}))
    statuses(exchange.order("ETH", True, 0.1, 2100.0, {"limit": {"tif": "Gtc"}}))
    oid = resting["resting"]["oid"]
    assert eventually(lambda: info.query_order_by_oid(wallet.address, oid)["order"]["status"] == "selfTradeCanceled")
    assert info.user_fills(wallet.address) == []


def test_user_queries_for_unknown_users_answer_empty_shapes(venue):
    info = venue.info()
    nobody = "0x" + "12" * 20
    assert info.user_state(nobody)["assetPositions"] == []
    assert info.open_orders(nobody) == []
    assert info.frontend_open_orders(nobody) == []
    assert info.user_fills(nobody) == []
    assert info.historical_orders(nobody) == []
    assert info.query_order_by_oid(nobody, 1) == {"status": "unknownOid"}
    assert info.user_role(nobody) == {"role": "missing"}
    assert info.extra_agents(nobody) == []
    assert not same_shape(info.user_rate_limit(nobody), fixture("http/http_userRateLimit_2025.json"))
    assert info.user_funding_history(nobody, 0) == []
    assert info.portfolio(nobody)[0][0] == "day"
    assert info.user_twap_slice_fills(nobody) == []
    assert info.query_sub_accounts(nobody) is None


def test_tc16_stop_fires_when_the_mark_crosses(venue):
    maker = venue.seed_book(bid="1999", ask="2001", sz="5")
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    info = venue.info()
    statuses(exchange.market_open("ETH", True, 0.2))
    stop = {"trigger": {"triggerPx": 1800.0, "isMarket": True, "tpsl": "sl"}}
    (status,) = statuses(exchange.order("ETH", False, 0.2, 1700.0, stop, reduce_only=True))
    oid = status["resting"]["oid"]
    with venue.engine.lock:
        resting = [(ETH, order.oid) for order in venue.engine.open_orders(maker)]
        venue.engine.cancel(maker, resting)
    venue.seed_book(bid="1700", ask="1710", sz="5")
    eventually(lambda: info.user_state(wallet.address)["assetPositions"] == [])
    assert info.query_order_by_oid(wallet.address, oid)["order"]["status"] in ("triggered", "filled")
    close = info.user_fills(wallet.address)[0]
    assert close["dir"] == "Close Long" and close["oid"] == oid and close["px"] == "1700.0"


def test_tc17_children_arm_when_the_parent_fills(venue):
    venue.seed_book(bid="1999", ask="2001", sz="5")
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    group = [
        {"coin": "ETH", "is_buy": True, "sz": 0.1, "limit_px": 2001.0, "order_type": {"limit": {"tif": "Gtc"}},
         "reduce_only": False},
        {"coin": "ETH", "is_buy": False, "sz": 0.1, "limit_px": 2500.0, "reduce_only": True,
         "order_type": {"trigger": {"triggerPx": 2500.0, "isMarket": True, "tpsl": "tp"}}},
    ]
    result = statuses(exchange.bulk_orders(group, grouping="normalTpsl"))
    assert "filled" in result[0] and result[1] == "waitingForTrigger"
    (child,) = venue.info().frontend_open_orders(wallet.address)
    assert child["orderType"] == "Take Profit Market" and child["triggerCondition"] == "Price above 2500.0"


def test_usd_send_credits_the_destination(venue):
    wallet = venue.wallet(1_000.0)
    destination = "0x" + "5a" * 20
    exchange = venue.exchange(wallet)
    assert exchange.usd_transfer(5.0, destination) == {"status": "ok", "response": {"type": "default"}}
    info = venue.info()
    assert float(info.user_state(destination)["marginSummary"]["accountValue"]) == 5.0
    assert float(info.user_state(wallet.address)["marginSummary"]["accountValue"]) == 995.0
    (update,) = [u for u in info.user_non_funding_ledger_updates(destination, 0)
                 if u["delta"]["type"] == "internalTransfer"]
    assert update["delta"]["usdc"] == "5.0" and update["delta"]["user"] == wallet.address.lower()
