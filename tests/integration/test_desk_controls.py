"""The operator controls reach the execution desk: pause refuses entries, flatten closes positions, halt stops every order."""

from __future__ import annotations

import eth_account
import msgspec
import pytest
from pathlib import Path

from operators.orders import cloid_for
from pairflow.control import Control
from pairflow.events import Alert, Bar, Signal
from sinks.desk import Desk
from sinks.execution import OrderRouter, RouterConfig
from sinks.executor import HyperliquidExecutor, LegOrder, OrderStateUnknown, Placement
from sinks.order_journal import OrderJournal
from tests.integration.desk_support import assert_last_order_closed_the_position, desk_long_eth, fresh_desk
from tests.integration.test_order_router import MARKS, Setup, orders_sent, venue  # noqa: F401 - the venue fixture


def mark_bar(coin: str, ts: int) -> Bar:
    px = MARKS[coin]
    return Bar(ts=ts, id=f"{coin}@{ts}", coin=coin, interval="1s", open=px, high=px, low=px, close=px, volume=1.0,
               notional=px, vwap=px, trades=1, buy_volume=0.5, sell_volume=0.5)


def test_pause_refuses_entries_and_a_flatten_request_closes_positions_once(venue: Setup, tmp_path: Path) -> None:
    control = Control()
    desk, bar = desk_long_eth(venue, tmp_path, "sig-c", control=control)
    now = venue.engine.now_ms
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
    assert_last_order_closed_the_position(venue)
    sent = len(venue.requests)
    desk.on_events([bar])  # the same request is acted on once
    assert not [p for p, b in venue.requests[sent:] if p == "/exchange" and b["action"]["type"] == "order"]

    control.resume_entries()
    assert desk.halted == "" and control.entries_allowed()



def test_a_flatten_crosses_the_legs_of_spreads_holding_a_coin_both_ways_and_the_ledger_ends_as_the_venue(
        venue: Setup, tmp_path: Path) -> None:
    # ETH/BTC long (ETH +0.5, BTC -0.0166) and ETH/SOL short (ETH -0.5, SOL +6.6): ETH nets to nothing at the
    # desk, so the flatten has no ETH order to send; the ledger crosses the two ETH legs at ETH's mark instead.
    for coin in ("ETH", "BTC", "SOL"):
        venue.book(coin)
    control = Control()
    wallet = eth_account.Account.create()
    desk = fresh_desk(venue, tmp_path, wallet, control=control)
    now = venue.engine.now_ms
    entries = [Signal(ts=now, id=f"{pair}:1", pair=pair, hedge_ratio=1.0, spread=0.0, zscore=-2.5 * target,
                      target=target, reason="entry-long" if target > 0 else "entry-short", legs=legs, hedge_ratios=(1.0,),
                      leg_targets=sizes)
               for pair, legs, target, sizes in (("ETH/BTC", ("ETH", "BTC"), 1.0, (0.5, -0.0166)),
                                                 ("ETH/SOL", ("ETH", "SOL"), -1.0, (-0.5, 6.6)))]
    desk.on_events([*(mark_bar(coin, now) for coin in MARKS), *entries])
    assert {pair: {coin: leg.szi for coin, leg in legs.items()} for pair, legs in desk.ledger.spreads.items()} == {
        "ETH/BTC": {"ETH": 0.5, "BTC": -0.0166}, "ETH/SOL": {"ETH": -0.5, "SOL": 6.6}}
    sent = len(orders_sent(venue))

    control.request_flatten()
    out = desk.on_events([mark_bar(coin, now + 1) for coin in MARKS])
    flatten = orders_sent(venue)[sent:]
    assert sorted((order["a"], order["s"]) for order in flatten) == [(0, "0.0166"), (2, "6.6")]  # BTC, SOL: no ETH
    assert all(order["r"] for order in flatten)
    venue_positions = {p.coin: float(p.szi) for p in venue.engine.clearinghouse_state(wallet.address).positions
                       if p.szi}
    assert venue_positions == {} == {coin: book.szi for coin, book in desk.ledger.coins.items() if book.szi}
    assert {pair: {coin: leg.szi for coin, leg in legs.items()} for pair, legs in desk.ledger.spreads.items()} == {
        "ETH/BTC": {"ETH": 0.0, "BTC": 0.0}, "ETH/SOL": {"ETH": 0.0, "SOL": 0.0}}
    spreads = [leg for legs in desk.ledger.spreads.values() for leg in legs.values()]
    assert sum(leg.realized for leg in spreads) == pytest.approx(
        sum(book.realized for book in desk.ledger.coins.values()), abs=1e-9)
    assert {event.scope for event in out if type(event).__name__ == "Pnl"} >= {"spread:ETH/BTC", "spread:ETH/SOL"}

def test_a_halt_flattens_then_sends_no_order_at_all_not_even_exits_until_resumed(venue: Setup, tmp_path: Path) -> None:
    control = Control()
    desk, eth_bar = desk_long_eth(venue, tmp_path, "sig-h", control=control)
    venue.book("BTC")
    now = venue.engine.now_ms
    btc_bar = msgspec.structs.replace(eth_bar, id="btc", coin="BTC", open=60_000.0, high=60_000.0, low=60_000.0, close=60_000.0,
                      vwap=60_000.0)

    def signal(number: int, target: float, reason: str, pair: str = "ETH/BTC") -> Signal:
        return Signal(ts=now + number, id=f"{pair}:{number}", pair=pair, hedge_ratio=1.0, spread=0.0, zscore=-2.5,
                      target=target, reason=reason, legs=("ETH", "BTC"), hedge_ratios=(1.0,),
                      leg_targets=(0.5 * target, -0.0167 * target))

    desk.on_events([btc_bar, signal(1, 1.0, "entry-long")])
    assert desk.position("BTC") == -0.0167 and desk.position("ETH") == 0.5  # netted to the spread's target

    control.halt()
    sent = len(orders_sent(venue))
    # The exit arrives in the batch that sees the halt: it is refused, and the halt's flatten closes everything.
    out = desk.on_events([signal(2, 0.0, "exit")])
    after_halt = orders_sent(venue)[sent:]
    assert after_halt and all(order["r"] for order in after_halt), "only reduce-only flatten orders"
    assert not [o for o in after_halt if o.get("c") in {cloid_for("ETH/BTC:2", coin) for coin in ("ETH", "BTC")}]
    messages = [e.message for e in out if isinstance(e, Alert)]
    assert any("halted by the operator" in m for m in messages) and any("flattened by the operator" in m for m in messages)
    assert desk.position("ETH") == desk.position("BTC") == 0.0

    sent = len(orders_sent(venue))
    for number, (target, reason) in enumerate([(-1.0, "entry-short"), (0.0, "exit"), (1.0, "entry-long")], start=3):
        desk.on_events([eth_bar, btc_bar, signal(number, target, reason)])
    assert orders_sent(venue)[sent:] == []

    control.resume_entries()
    desk.on_events([signal(6, 1.0, "entry-long")])
    assert desk.position("ETH") == 0.5 and len(orders_sent(venue)) > sent


class Unanswered(HyperliquidExecutor):
    """The venue gets each order but its answers (and, while ``silent``, status answers too) are lost."""

    silent = True

    def place(self, orders: list[LegOrder], expires_after: int | None = None) -> list[Placement]:
        super().place(orders, expires_after)
        raise OrderStateUnknown("answer lost")

    def status(self, cloid: str) -> Placement:
        if self.silent:
            raise OrderStateUnknown("status answer lost")
        return super().status(cloid)


def test_an_order_left_unknown_is_settled_by_cloid_at_reconciliation_not_left_blocking(venue: Setup,
                                                                                       tmp_path: Path) -> None:
    address, client = venue.trader()
    executor = Unanswered(client, address)
    router = OrderRouter(executor, executor.rules, OrderJournal(tmp_path / "cloids"),
                         config=RouterConfig(status_retries=2), sleep=lambda seconds: None)
    desk = Desk(router, executor, executor.rules, capital=100_000.0, reconcile_interval_s=1e9)
    now = venue.engine.now_ms
    entry = Signal(ts=now, id="ETH/BTC:9", pair="ETH/BTC", hedge_ratio=1.0, spread=0.0, zscore=-2.5, target=1.0,
                   reason="entry-long", legs=("ETH", "BTC"), hedge_ratios=(1.0,), leg_targets=(0.5, -0.0166))
    # The ETH book is empty: the IOC is cancelled by the venue, but neither that answer nor the status arrives.
    out = desk.on_events([mark_bar("ETH", now), mark_bar("BTC", now), entry])
    assert any(type(e).__name__ == "Alert" and "still unknown" in e.message for e in out)
    (cloid,) = router.tracker.open_cloids()  # no completion or second leg was sent after it
    assert desk.blocked.startswith("order state unknown")
    executor.silent = False
    settled = [e for e in desk.reconcile() if type(e).__name__ == "Order"]
    assert [(o.cloid, o.status) for o in settled] == [(cloid, "canceled")]
    assert desk.blocked == "" and router.tracker.open_cloids() == []
    assert len(orders_sent(venue)) == 1


def test_a_batch_is_applied_in_event_time_with_marks_before_a_signal_of_the_same_ms(venue: Setup,
                                                                                    tmp_path: Path) -> None:
    venue.book("ETH")
    venue.book("BTC")
    address, client = venue.trader()
    executor = HyperliquidExecutor(client, address)
    router = OrderRouter(executor, executor.rules, OrderJournal(tmp_path / "cloids"))
    desk = Desk(router, executor, executor.rules, capital=100_000.0, reconcile_interval_s=1e9)
    now = venue.engine.now_ms
    entry = Signal(ts=now, id="ETH/BTC:7", pair="ETH/BTC", hedge_ratio=1.0, spread=0.0, zscore=-2.5, target=1.0,
                   reason="entry-long", legs=("ETH", "BTC"), hedge_ratios=(1.0,), leg_targets=(0.5, -0.0166))
    # The signal arrived first in the batch (two topics merged); it was computed from these bars.
    out = desk.on_events([entry, mark_bar("ETH", now), mark_bar("BTC", now)])
    assert not [e for e in out if isinstance(e, Alert) and "stale_data" in e.message]
    assert (desk.position("ETH"), desk.position("BTC")) == (0.5, -0.0166)
