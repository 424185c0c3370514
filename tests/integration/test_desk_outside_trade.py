"""A trade on the desk's account behind its back (the operator's manual order through the unchanged SDK).

The desk counts every fill of the account, so its books still equal the exchange's; what differs is
that no order of ours explains the fill. Reconciliation names it, alerts, and blocks entries (exits
still close) until the operator undoes the trade or the coin is flattened.
"""

from __future__ import annotations

from pathlib import Path

import eth_account
import msgspec
from hyperliquid.exchange import Exchange

from pairflow.events import Alert, Signal
from tests.integration.desk_support import desk_long_eth
from tests.integration.test_order_router import Setup, venue  # noqa: F401 - the venue fixture


def orders_after(venue: Setup, sent: int) -> list[dict]:
    return [o for p, b in venue.requests[sent:] if p == "/exchange" for o in b["action"].get("orders", [])]


def alerts(events: list) -> list[str]:
    return [event.message for event in events if isinstance(event, Alert)]


def entry(ts: int, number: int, target: float) -> Signal:
    return Signal(ts=ts, id=f"ETH/BTC:{number}", pair="ETH/BTC", hedge_ratio=1.0, spread=0.0, zscore=-2.5 * target,
                  target=target, reason="entry-long" if target else "exit", legs=("ETH", "BTC"),
                  hedge_ratios=(1.0,), leg_targets=(0.1 * target, -0.0033 * target))


def test_a_manual_trade_on_the_account_alerts_blocks_entries_and_clears_once_undone(venue: Setup,
                                                                                      tmp_path: Path) -> None:
    wallet = eth_account.Account.create()
    desk, eth_bar = desk_long_eth(venue, tmp_path, "sig-m", wallet=wallet)
    venue.book("BTC")
    btc_bar = msgspec.structs.replace(eth_bar, id="btc", coin="BTC", close=60_000.0)
    assert alerts(desk.reconcile()) == [] and desk.blocked == ""
    operator = Exchange(wallet, venue.url)

    assert operator.market_open("ETH", True, 0.5)["status"] == "ok"
    found = alerts(desk.reconcile())
    assert found == ["reconciliation mismatch, entries blocked: position ETH: 0.5 traded outside pairflow"]
    assert desk.position("ETH") == 2.0  # every fill of the account is counted; only its origin differs

    now = venue.engine.now_ms
    sent = len(venue.requests)
    refused = alerts(desk.on_events([eth_bar, btc_bar, entry(now, 1, 1.0)]))
    assert refused == ["ETH/BTC: entries_blocked: position ETH: 0.5 traded outside pairflow"]
    assert orders_after(venue, sent) == []

    assert operator.market_open("ETH", False, 0.5)["status"] == "ok"
    assert alerts(desk.reconcile()) == ["reconciled with the exchange; entries allowed again"]
    assert desk.blocked == ""
    sent = len(venue.requests)
    desk.on_events([entry(now + 1, 2, 1.0)])
    assert sorted(o["a"] for o in orders_after(venue, sent)) == [0, 1]  # the entry trades both legs again
    desk.shutdown()


def test_a_manual_trade_left_open_is_cleared_when_the_desk_flattens_the_coin(venue: Setup, tmp_path: Path) -> None:
    wallet = eth_account.Account.create()
    desk, eth_bar = desk_long_eth(venue, tmp_path, "sig-f", wallet=wallet)
    assert Exchange(wallet, venue.url).market_open("ETH", False, 0.25)["status"] == "ok"
    desk.reconcile()
    assert desk.blocked == "position ETH: -0.25 traded outside pairflow"
    desk.flatten("operator asked")
    assert alerts(desk.reconcile()) == ["reconciled with the exchange; entries allowed again"]
    assert desk.blocked == "" and desk.position("ETH") == 0.0
    desk.shutdown()
