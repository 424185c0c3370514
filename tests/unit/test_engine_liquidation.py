"""Liquidation: triggered when accountValue < crossMaintenanceMarginUsed, closed at market, fills tagged."""

from __future__ import annotations

import pytest

from tests.support.wire_engine import ASSETS, T0, funded_engine
from venue.engine import Channel, Limit, OrderRequest, Tif

TRADER, MAKER = "0x" + "1" * 40, "0x" + "e" * 40
ETH = 1


def limit(is_buy, px, sz, tif="Gtc"):
    return OrderRequest(ETH, is_buy, px, sz, False, Limit(Tif(tif)))


@pytest.fixture()
def engine():
    eng = funded_engine({MAKER: "1000000", TRADER: "150"}, ASSETS[:2])
    eng.place_orders(MAKER, [limit(False, "2000", "1")])
    assert "filled" in eng.place_orders(TRADER, [limit(True, "2000", "1", "Ioc")])[0]
    return eng


def test_no_liquidation_above_maintenance(engine):
    engine.place_orders(MAKER, [limit(True, "1890", "5")])
    engine.set_oracle("ETH", 1900.0)
    engine.advance(T0 + 1_000)
    # mark = median(1890, oracle 1900, last 2000) = 1900; value = 149.1 - 100 = 49.1 >= 1900/50 = 38
    state = engine.clearinghouse_state(TRADER)
    assert state["marginSummary"]["accountValue"] == "49.1"
    assert state["crossMaintenanceMarginUsed"] == "38.0"
    assert len(state["assetPositions"]) == 1


def test_market_liquidation_below_maintenance(engine):
    events = []
    engine.add_listener(events.append)
    open_oid = engine.place_orders(TRADER, [limit(True, "1000", "0.01")])[0]["resting"]["oid"]
    engine.place_orders(MAKER, [limit(True, "1840", "5")])
    engine.set_oracle("ETH", 1850.0)
    engine.advance(T0 + 1_000)
    # mark = median(1840, 1850, 2000) = 1850; value = 149.1 - 150 = -0.9 < 37 -> liquidated at the 1840 bid
    assert engine.clearinghouse_state(TRADER)["assetPositions"] == []
    fill = engine.user_fills(TRADER)[0]
    assert (fill["px"], fill["sz"], fill["dir"], fill["closedPnl"]) == ("1840.0", "1.0", "Close Long", "-160.0")
    assert fill["liquidation"] == {"liquidatedUser": TRADER, "markPx": "1850.0", "method": "market"}
    assert engine.user_fills(MAKER)[0]["liquidation"]["method"] == "market"
    # cash 149.1 - 160 - taker fee 1840 x 0.00045 = 0.828 -> -11.728
    assert engine.clearinghouse_state(TRADER)["marginSummary"]["accountValue"] == "-11.728"
    assert engine.order_status(TRADER, open_oid)["order"]["status"] == "liquidatedCanceled"
    liquidations = [e for e in events if e.channel is Channel.LIQUIDATION]
    assert liquidations and liquidations[0].key == TRADER
    assert liquidations[0].data["liquidated_user"] == TRADER


def test_backstop_when_book_is_empty(engine):
    engine.set_oracle("ETH", 1850.0)
    engine.advance(T0 + 1_000)
    fill = engine.user_fills(TRADER)[0]
    assert fill["liquidation"]["method"] == "backstop"
    assert fill["px"] == "1850.0"
    assert engine.clearinghouse_state(TRADER)["assetPositions"] == []
