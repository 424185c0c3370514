"""An exit closes what pairflow's spread holds and leaves the operator's manual trade on the coin alone.

The desk trades a spread on the served venue; the operator then trades the same coin by hand
through the unchanged SDK, as a second client of the account. The spread's exit sends exactly the
spread's legs (not the whole coin position), reduce-only only where it shrinks the account's
position; the manual trade is still held afterwards and still reported as traded outside pairflow.
"""

from __future__ import annotations

from pathlib import Path

import eth_account
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hyperliquid.exchange import Exchange

from operators.netting import order_to_target
from pairflow.events import Bar
from tests.integration.desk_support import fresh_desk
from tests.integration.test_desk_outside_trade import alerts, entry, orders_after
from tests.integration.test_order_router import ASSETS, Setup, venue  # noqa: F401 - the venue fixture


@pytest.mark.parametrize(("manual_buy", "manual_size"), [(True, 0.5), (False, 2.0)], ids=["same-side", "opposite"])
def test_an_exit_leaves_the_operators_manual_trade_on_the_coin(venue: Setup, tmp_path: Path, manual_buy: bool,
                                                               manual_size: float) -> None:
    wallet = eth_account.Account.create()
    venue.book("ETH")
    venue.book("BTC")
    desk = fresh_desk(venue, tmp_path, wallet)
    now = venue.engine.now_ms
    eth = Bar(ts=now, id="e", coin="ETH", interval="1s", open=2000.0, high=2000.0, low=2000.0, close=2000.0,
              volume=1.0, notional=1.0, vwap=2000.0, trades=1, buy_volume=0.5, sell_volume=0.5)
    btc = msgspec.structs.replace(eth, id="b", coin="BTC", open=60_000.0, high=60_000.0, low=60_000.0,
                                  close=60_000.0, vwap=60_000.0)
    desk.on_events([eth, btc, entry(now, 1, 1.0)])
    assert (desk.position("ETH"), desk.position("BTC")) == (0.1, -0.0033)

    manual = manual_size if manual_buy else -manual_size
    assert Exchange(wallet, venue.url).market_open("ETH", manual_buy, manual_size)["status"] == "ok"
    assert alerts(desk.reconcile()) == [
        f"reconciliation mismatch, entries blocked: position ETH: {manual!r} traded outside pairflow"]

    sent = len(venue.requests)
    desk.on_events([entry(now + 1, 2, 0.0)])
    exit_orders = {order["a"]: order for order in orders_after(venue, sent)}
    eth_id, btc_id = ([asset.name for asset in ASSETS].index(coin) for coin in ("ETH", "BTC"))
    assert (exit_orders[eth_id]["b"], exit_orders[eth_id]["s"]) == (False, "0.1")  # the spread's leg only
    assert exit_orders[eth_id]["r"] is manual_buy  # reduce-only only where the account's position shrinks
    assert (exit_orders[btc_id]["b"], exit_orders[btc_id]["s"], exit_orders[btc_id]["r"]) == (True, "0.0033", True)
    assert round(desk.position("ETH"), 8) == manual and desk.position("BTC") == 0.0
    assert alerts(desk.reconcile()) == [
        f"reconciliation mismatch, entries blocked: position ETH: {manual!r} traded outside pairflow"]
    desk.shutdown()


sizes = st.decimals(min_value=-1000, max_value=1000, places=4).map(float)


@given(target=sizes, ours=sizes, outside=sizes)
def test_the_order_moves_only_our_part_and_is_reduce_only_only_when_the_account_shrinks(
    target: float, ours: float, outside: float
) -> None:
    held = ours + outside
    delta, reduce_only = order_to_target(target, held, outside)
    assert abs(held + delta - outside - target) < 1e-6
    after = held + delta
    assert reduce_only == (abs(after) < abs(held) and after * held >= 0)
    if reduce_only:
        assert delta * held < 0  # a reduce-only order always trades against the account's position
