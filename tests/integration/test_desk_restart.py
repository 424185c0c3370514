"""A trader killed with a spread open and restarted without a recovery snapshot takes the spread over.

The desks are built by the composition root's own factory (`app.runners.trading.desk_factory`) against the
venue over HTTP/WS. The first desk is abandoned right after its entry, as a SIGKILL leaves it (no shutdown,
no cancel, no final pull) before the store could have seen any of it: the take-over reads only what the
desk wrote ahead of its orders (the cloid and spread journals in the data directory).
"""

from __future__ import annotations

from pathlib import Path

import eth_account

from app.runners.trading import desk_factory
from pairflow.config import Settings
from pairflow.events import Bar, OrderIntent, Signal
from tests.integration.test_order_router import MARKS, Setup, positions, venue  # noqa: F401 - the venue fixture


def bar(coin: str, ts: int) -> Bar:
    px = MARKS[coin]
    return Bar(ts=ts, id=f"{coin}@{ts}", coin=coin, interval="1s", open=px, high=px, low=px, close=px, volume=1.0,
               notional=px, vwap=px, trades=1, buy_volume=0.5, sell_volume=0.5)


def signal(ts: int, number: int, target: float) -> Signal:
    sizes = (0.5 * target, -0.0166 * target)
    return Signal(ts=ts, id=f"ETH/BTC:{number}", pair="ETH/BTC", hedge_ratio=1.0, spread=0.0, zscore=-2.5 * target,
                  target=target, reason="entry-long" if target else "exit", legs=("ETH", "BTC"), hedge_ratios=(1.0,),
                  leg_targets=sizes)


def test_a_restarted_desk_takes_over_the_open_spread_and_closes_exactly_it(venue: Setup, tmp_path: Path) -> None:
    venue.book("ETH")
    venue.book("BTC")
    wallet = eth_account.Account.create()
    with venue.engine.lock:
        venue.engine.fund(wallet.address, 100_000)
    build = desk_factory(Settings(), venue.url, bytes(wallet.key), wallet.address, tmp_path / "trade")
    now = venue.engine.now_ms
    first = build()
    entry = signal(now, 1, 1.0)
    out = first.reconcile() + first.on_events([bar("ETH", now), bar("BTC", now), entry])
    assert positions(first.router.executor) == {"ETH": 0.5, "BTC": -0.0166}
    assert any(isinstance(event, OrderIntent) for event in out)
    first.stream.close()  # killed: nothing else of it runs

    second = build()
    second.reconcile()
    assert second.blocked == ""
    assert {coin: book.szi for coin, book in second.ledger.spreads["ETH/BTC"].items()} == {
        "ETH": 0.5, "BTC": -0.0166}
    assert (second.net.net("ETH"), second.net.net("BTC"), second.acted) == (0.5, -0.0166, {"ETH/BTC": 1.0})
    sent = len(venue.requests)
    # The entry replayed after the restart trades nothing; the exit closes exactly what the spread holds.
    second.on_events([bar("ETH", now + 1), bar("BTC", now + 1), signal(now + 1, 2, 1.0)])
    assert not [p for p, b in venue.requests[sent:] if p == "/exchange" and b["action"]["type"] == "order"]
    second.on_events([signal(now + 2, 3, 0.0)])
    assert positions(second.router.executor) == {}
    closing = [o for p, b in venue.requests[sent:] if p == "/exchange" for o in b["action"].get("orders", [])]
    assert sorted((o["s"], o["r"]) for o in closing) == [("0.0166", True), ("0.5", True)]
    second.shutdown()
