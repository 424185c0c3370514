"""Hourly funding: formula, cap, payments on the oracle price, history rows and events — hand-computed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.wire_engine import T0, funded_engine
from venue.engine import Channel, Limit, OrderRequest, Tif
from venue.engine.funding import hourly_rate, premium_of

HOUR = 3_600_000
LONG, SHORT = "0x" + "1" * 40, "0x" + "2" * 40
ETH, SOL = 1, 2


def limit(asset, is_buy, px, sz, tif="Gtc"):
    return OrderRequest(asset, is_buy, px, sz, False, Limit(Tif(tif)))


@pytest.fixture()
def engine():
    return funded_engine({LONG: "100000", SHORT: "100000"})


def test_formula_with_zero_premium_is_the_interest_rate():
    # F = 0 + clamp(0.0001 - 0, +-0.0005) = 0.0001 per 8h -> 0.0000125 per hour
    assert hourly_rate(Decimal(0)) == Decimal("0.0000125")


def test_formula_clamp_and_cap():
    # P = 0.01: F = 0.01 + clamp(-0.0099) = 0.01 - 0.0005 = 0.0095 -> /8 = 0.0011875
    assert hourly_rate(Decimal("0.01")) == Decimal("0.0011875")
    # P = 0.0003: F = 0.0003 + clamp(-0.0002) = 0.0001 -> 0.0000125 (inside the clamp band)
    assert hourly_rate(Decimal("0.0003")) == Decimal("0.0000125")
    # P = 0.5: F/8 = 0.4995/8 = 0.0624375 > 4% cap
    assert hourly_rate(Decimal("0.5")) == Decimal("0.04")
    assert hourly_rate(Decimal("-0.5")) == Decimal("-0.04")


def test_premium_uses_impact_prices():
    # impact bid 101 above oracle 100 -> +1; impact ask 103 above oracle -> 0; premium 1/100
    assert premium_of(Decimal(101), Decimal(103), Decimal(100)) == Decimal("0.01")
    assert premium_of(Decimal(97), Decimal(99), Decimal(100)) == Decimal("-0.01")
    assert premium_of(None, None, Decimal(100)) == 0


def test_hourly_payment_on_oracle_price(engine):
    engine.place_orders(SHORT, [limit(ETH, False, "2000", "2")])
    engine.place_orders(LONG, [limit(ETH, True, "2000", "2", "Ioc")])
    engine.set_oracle("ETH", 2100.0)
    events = []
    engine.add_listener(events.append)
    engine.advance(T0 + HOUR)
    # empty book -> premium 0 -> rate 0.0000125; long pays 2 x 2100 (oracle, not mark) x 0.0000125 = 0.0525
    long_rows = engine.user_funding(LONG, T0)
    assert long_rows == [{"delta": {"type": "funding", "coin": "ETH", "usdc": "-0.0525", "szi": "2.0",
                                    "fundingRate": "0.0000125", "nSamples": 720},
                          "hash": long_rows[0]["hash"], "time": T0 + HOUR}]
    assert engine.user_funding(SHORT, T0)[0]["delta"]["usdc"] == "0.0525"
    assert engine.funding_history("ETH", T0) == [{"coin": "ETH", "fundingRate": "0.0000125", "premium": "0.0",
                                                  "time": T0 + HOUR}]
    position = engine.clearinghouse_state(LONG)["assetPositions"][0]["position"]
    assert position["cumFunding"] == {"allTime": "0.0525", "sinceOpen": "0.0525", "sinceChange": "0.0525"}
    funding_events = [e for e in events if e.channel is Channel.FUNDING]
    assert {e.key for e in funding_events} == {LONG, SHORT}
    assert next(e.data for e in funding_events if e.key == LONG) == {
        "coin": "ETH", "usdc": "-0.0525", "szi": "2.0", "fundingRate": "0.0000125", "nSamples": 720,
        "time": T0 + HOUR}


def test_one_history_row_per_hour_per_coin(engine):
    engine.set_oracle("SOL", 100.0)
    engine.advance(T0 + 3 * HOUR + 5)
    rows = engine.funding_history("SOL", T0)
    assert [row["time"] for row in rows] == [T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]
    assert engine.funding_history("SOL", T0 + 2 * HOUR, T0 + 2 * HOUR) == [rows[1]]
    assert engine.funding_history("BTC", T0) == []  # no oracle and no market: no rate


def test_premium_from_book_drives_rate(engine):
    engine.set_oracle("SOL", 100.0)
    # 100 SOL bid at 101 covers the 6000 USDC impact notional -> impact bid 101; ask 103 -> premium 0.01
    engine.place_orders(LONG, [limit(SOL, True, "101", "100"), limit(SOL, False, "103", "100")])
    engine.advance(T0 + HOUR)
    assert engine.funding_history("SOL", T0) == [{"coin": "SOL", "fundingRate": "0.0011875", "premium": "0.01",
                                                  "time": T0 + HOUR}]
    ctx = engine.active_asset_ctx("SOL")["ctx"]
    assert ctx["premium"] == "0.01" and ctx["impactPxs"] == ["101.0", "103.0"]


def test_isolated_funding_comes_out_of_isolated_margin(engine):
    engine.update_leverage(LONG, ETH, False, 10)
    engine.place_orders(SHORT, [limit(ETH, False, "2000", "1")])
    engine.place_orders(LONG, [limit(ETH, True, "2000", "1", "Ioc")])
    before = engine.clearinghouse_state(LONG)
    engine.advance(T0 + HOUR)
    after = engine.clearinghouse_state(LONG)
    # 1 x 2000 x 0.0000125 = 0.025 leaves the isolated margin (200 -> 199.975), cross cash is untouched
    assert before["assetPositions"][0]["position"]["marginUsed"] == "200.0"
    assert after["assetPositions"][0]["position"]["marginUsed"] == "199.975"
    assert after["crossMarginSummary"]["accountValue"] == before["crossMarginSummary"]["accountValue"]
