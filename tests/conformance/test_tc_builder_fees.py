"""TC-33: builder fees, via the unchanged SDK over HTTP.

A builder may only charge a user who approved it (``approveBuilderFee``, user-signed) and never
more than the approved rate or the protocol's perp cap (0.1%, ``f = 100``). Rejections are
action-level errors and charge nothing.
"""

from __future__ import annotations

import eth_account
import pytest

from tests.conformance.test_tc_trading import statuses

NOT_APPROVED = "Builder fee has not been approved."
ABOVE_CAP = "Builder fee 101 exceeds the maximum of 100 (0.1%) for perps."


def max_builder_fee(venue, user: str, builder: str) -> int:
    return venue.info().post("/info", {"type": "maxBuilderFee", "user": user, "builder": builder})


def account_value(venue, user: str) -> str:
    return venue.info().user_state(user)["marginSummary"]["accountValue"]


@pytest.fixture
def builder(venue):
    """A builder with the 100 USDC of account value approvals require."""
    return venue.wallet(100.0).address.lower()


def buy_with_builder(venue, trader, builder: str, fee: int) -> dict:
    return venue.exchange(trader).order("ETH", True, 0.1, 2001.0, {"limit": {"tif": "Ioc"}},
                                        builder={"b": builder, "f": fee})


@pytest.mark.parametrize("fee", [0, 1, 1_000_000, 2**32 - 1])
def test_tc33_a_builder_the_user_never_approved_is_refused_and_charges_nothing(venue, builder, fee):
    venue.seed_book()
    trader = venue.wallet(1_000.0)
    response = buy_with_builder(venue, trader, builder, fee)
    assert response == {"status": "err", "response": NOT_APPROVED}
    assert venue.info().user_fills(trader.address) == []
    assert account_value(venue, trader.address) == "1000.0"
    assert account_value(venue, builder) == "100.0"


def test_tc33_a_fee_above_the_approved_rate_is_refused(venue, builder):
    venue.seed_book()
    trader = venue.wallet(1_000.0)
    assert venue.exchange(trader).approve_builder_fee(builder, "0.001%") == {
        "status": "ok", "response": {"type": "default"}}
    assert max_builder_fee(venue, trader.address, builder) == 1
    assert buy_with_builder(venue, trader, builder, 2) == {"status": "err", "response": NOT_APPROVED}
    assert venue.info().user_fills(trader.address) == []


@pytest.mark.parametrize("fee", [101, 2**32 - 1])
def test_tc33_a_fee_above_the_perp_cap_is_refused_even_when_approved(venue, builder, fee):
    venue.seed_book()
    trader = venue.wallet(1_000.0)
    assert venue.exchange(trader).approve_builder_fee(builder, "1%")["status"] == "ok"
    assert max_builder_fee(venue, trader.address, builder) == 1000
    expected = ABOVE_CAP.replace("101", str(fee))
    assert buy_with_builder(venue, trader, builder, fee) == {"status": "err", "response": expected}
    assert account_value(venue, trader.address) == "1000.0"
    assert account_value(venue, builder) == "100.0"


def test_tc33_an_approved_builder_is_charged_on_taker_fills(venue, builder):
    venue.seed_book()
    trader = venue.wallet(1_000.0)
    assert venue.exchange(trader).approve_builder_fee(builder, "0.01%")["status"] == "ok"
    assert max_builder_fee(venue, trader.address, builder) == 10
    (status,) = statuses(buy_with_builder(venue, trader, builder, 10))
    assert status["filled"]["totalSz"] == "0.1"
    (fill,) = venue.info().user_fills(trader.address)
    # notional 200.1: taker 0.045% = 0.090045, builder 0.01% = 0.02001, fee includes both
    assert (fill["fee"], fill["builderFee"]) == ("0.110055", "0.02001")
    assert account_value(venue, builder) == "100.02001"
    assert account_value(venue, trader.address) == "999.889945"  # 1000 - 0.110055; the mark is the 2001 paid


def test_tc33_an_approved_builder_is_charged_on_maker_fills_of_a_resting_order(venue, builder):
    venue.seed_book()
    trader, taker = venue.wallet(1_000.0), venue.wallet(1_000.0)
    assert venue.exchange(trader).approve_builder_fee(builder, "0.01%")["status"] == "ok"
    (status,) = statuses(venue.exchange(trader).order("ETH", True, 0.1, 2000.0, {"limit": {"tif": "Gtc"}},
                                                      builder={"b": builder, "f": 10}))
    assert "resting" in status
    (status,) = statuses(venue.exchange(taker).order("ETH", False, 0.1, 2000.0, {"limit": {"tif": "Ioc"}}))
    assert status["filled"]["totalSz"] == "0.1"
    (fill,) = venue.info().user_fills(trader.address)
    # notional 200: maker 0.015% = 0.03, builder 0.01% = 0.02
    assert (fill["crossed"], fill["fee"], fill["builderFee"]) == (False, "0.05", "0.02")
    assert account_value(venue, builder) == "100.02"
    (taker_fill,) = venue.info().user_fills(taker.address)
    assert "builderFee" not in taker_fill


def test_tc33_approval_needs_a_builder_with_100_usdc(venue):
    trader = venue.wallet(1_000.0)
    poor = venue.wallet(99.0).address
    never_funded = eth_account.Account.create().address
    for builder in (poor, never_funded):
        assert venue.exchange(trader).approve_builder_fee(builder, "0.01%") == {
            "status": "err", "response": "Builder has insufficient balance to be approved."}
        assert max_builder_fee(venue, trader.address, builder) == 0


@pytest.mark.parametrize("rate, message", [
    ("1.001%", "Max fee rate 1.001% exceeds the maximum of 1%."),
    ("0.0001%", "Invalid max fee rate '0.0001%': it must be a whole number of tenths of a basis point."),
    ("0.01", "Invalid max fee rate '0.01': it must be a percentage such as 0.01%."),
])
def test_tc33_approval_refuses_a_rate_above_one_percent_or_malformed(venue, builder, rate, message):
    trader = venue.wallet(1_000.0)
    assert venue.exchange(trader).approve_builder_fee(builder, rate) == {"status": "err", "response": message}
    assert max_builder_fee(venue, trader.address, builder) == 0


def test_tc33_a_new_approval_replaces_the_old_one_and_zero_keeps_attribution(venue, builder):
    venue.seed_book()
    trader = venue.wallet(1_000.0)
    exchange = venue.exchange(trader)
    assert exchange.approve_builder_fee(builder, "0.1%")["status"] == "ok"
    assert max_builder_fee(venue, trader.address, builder) == 100
    assert exchange.approve_builder_fee(builder, "0%")["status"] == "ok"
    assert max_builder_fee(venue, trader.address, builder) == 0
    assert buy_with_builder(venue, trader, builder, 1) == {"status": "err", "response": NOT_APPROVED}
    (status,) = statuses(buy_with_builder(venue, trader, builder, 0))
    assert "filled" in status
    (fill,) = venue.info().user_fills(trader.address)
    assert "builderFee" not in fill
    assert max_builder_fee(venue, builder, trader.address) == 0
