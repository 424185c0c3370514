"""A desk on the served venue, flat or already holding a position (for the tests of what closes it: kill, flatten)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import eth_account
from eth_account.signers.local import LocalAccount

from operators.risk_checks import PreTrade
from pairflow.events import Bar
from pairflow.hyperliquid.exchange_client import ExchangeClient
from pairflow.hyperliquid.signer import L1Signer
from sinks.desk import Desk
from sinks.execution import LegPlan, OrderRouter
from sinks.executor import HyperliquidExecutor
from sinks.order_journal import OrderJournal
from tests.integration.test_order_router import MARKS, Setup


def fresh_desk(venue: Setup, journal_dir: Path, wallet: LocalAccount, **desk_options: Any) -> Desk:
    """Return a desk trading ``wallet``'s account (funded with 100,000 USDC here) on the served venue, flat."""
    with venue.engine.lock:
        venue.engine.fund(wallet.address, 100_000)
    executor = HyperliquidExecutor(ExchangeClient(venue.url, L1Signer(bytes(wallet.key))), wallet.address)
    router = OrderRouter(executor, executor.rules, OrderJournal(journal_dir / "cloids"))
    return Desk(router, executor, executor.rules, capital=100_000.0, **desk_options)


def desk_long_eth(venue: Setup, journal_dir: Path, cloid: str, wallet: LocalAccount | None = None,
                  **desk_options: Any) -> tuple[Desk, Bar]:
    """Return a desk of a funded wallet (new unless given) that bought 1.5 ETH at 2000, and the bar that marked ETH.

    ``desk_options`` go to ``Desk`` (the control under test); ``cloid`` names the entry order.
    """
    venue.book("ETH")
    desk = fresh_desk(venue, journal_dir, wallet or eth_account.Account.create(), **desk_options)
    router = desk.router
    now = venue.engine.now_ms
    bar = Bar(ts=now, id="b", coin="ETH", interval="1s", open=2000.0, high=2000.0, low=2000.0, close=2000.0,
              volume=1.0, notional=1.0, vwap=2000.0, trades=1, buy_volume=0.5, sell_volume=0.5)
    desk.on_events([bar])
    router.execute([LegPlan("ETH", 1.5, 2000.0, cloid)], PreTrade(now_ms=now, positions={}, marks=MARKS,
                                                                equity=1e5, last_data_ms={"ETH": now}))
    desk.pull()
    return desk, bar


def assert_last_order_closed_the_position(venue: Setup) -> None:
    """The last order sent was a reduce-only sell of the whole 1.5 ETH."""
    flatten = [o for p, b in venue.requests if p == "/exchange" for o in b["action"].get("orders", [])][-1]
    assert flatten["r"] is True and flatten["b"] is False and flatten["s"] == "1.5"
