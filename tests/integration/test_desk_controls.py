"""The operator controls reach the execution desk: a paused desk refuses entries, a flatten request closes positions."""

from __future__ import annotations

from pathlib import Path

import eth_account

from operators.risk_checks import PreTrade
from pairflow.control import Control
from pairflow.events import Bar, Signal
from pairflow.hyperliquid.exchange_client import ExchangeClient
from pairflow.hyperliquid.signer import L1Signer
from sinks.desk import Desk
from sinks.execution import LegPlan, OrderRouter
from sinks.executor import HyperliquidExecutor
from sinks.order_journal import OrderJournal
from tests.integration.test_order_router import MARKS, Setup, venue  # noqa: F401 - the venue fixture


def test_pause_refuses_entries_and_a_flatten_request_closes_positions_once(venue: Setup, tmp_path: Path) -> None:
    venue.book("ETH")
    wallet = eth_account.Account.create()
    with venue.engine.lock:
        venue.engine.fund(wallet.address, 100_000)
    executor = HyperliquidExecutor(ExchangeClient(venue.url, L1Signer(bytes(wallet.key))), wallet.address)
    router = OrderRouter(executor, executor.rules, OrderJournal(tmp_path / "cloids"))
    control = Control()
    desk = Desk(router, executor, executor.rules, capital=100_000.0, control=control)
    now = venue.engine.now_ms
    bar = Bar(ts=now, id="b", coin="ETH", interval="1s", open=2000.0, high=2000.0, low=2000.0, close=2000.0,
              volume=1.0, notional=1.0, vwap=2000.0, trades=1, buy_volume=0.5, sell_volume=0.5)
    desk.on_events([bar])
    router.execute([LegPlan("ETH", 1.5, 2000.0, "sig-c")], PreTrade(now_ms=now, positions={}, marks=MARKS,
                                                                  equity=1e5, last_data_ms={"ETH": now}))
    desk.pull()
    assert desk.position("ETH") == 1.5

    control.pause_entries()
    entry = Signal(ts=now, id="ETH/BTC:1", pair="ETH/BTC", hedge_ratio=1.0, spread=0.0, zscore=-2.5, target=1.0,
                   reason="entry-long", legs=("ETH", "BTC"), hedge_ratios=(1.0,), leg_targets=(0.1, -0.01))
    sent = len(venue.requests)
    (refused,) = [e for e in desk.on_events([entry]) if type(e).__name__ == "Alert"]
    assert "paused by the operator" in refused.message
    assert not [p for p, b in venue.requests[sent:] if p == "/exchange" and b["action"]["type"] == "order"]

    control.request_flatten()
    out = desk.on_events([bar])
    assert any(type(e).__name__ == "Alert" and "flattened by the operator" in e.message for e in out)
    assert desk.position("ETH") == 0.0
    flatten = [o for p, b in venue.requests if p == "/exchange" for o in b["action"].get("orders", [])][-1]
    assert flatten["r"] is True and flatten["b"] is False and flatten["s"] == "1.5"
    sent = len(venue.requests)
    desk.on_events([bar])  # the same request is acted on once
    assert not [p for p, b in venue.requests[sent:] if p == "/exchange" and b["action"]["type"] == "order"]

    control.resume_entries()
    assert desk.halted == "" and control.entries_allowed()
