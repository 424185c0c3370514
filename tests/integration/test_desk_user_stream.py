"""The desk follows the account over the user stream: a WS drop mid-run is reconciled, no fill lost or counted twice,
and funding settled on the held positions reaches the PnL, which matches the account's change to the cent.

The venue is served over HTTP/WS and restarted on the same port while the desk
runs; a resting order of the account fills while the socket is down, so only
the reconciliation at the reconnect can recover that fill.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import eth_account
import pytest

from pairflow.events import Bar, Fill, FundingPayment, Pnl, Position, Signal
from pairflow.hyperliquid.exchange_client import ExchangeClient
from pairflow.hyperliquid.signer import L1Signer
from sinks.desk import Desk
from sinks.execution import OrderRouter
from sinks.executor import HyperliquidExecutor, LegOrder
from sinks.order_journal import OrderJournal
from sources.user_stream import UserStreamThread
from tests.helpers import eventually
from tests.metrics_support import sample
from tests.integration.test_order_router import MARKS, marked_engine
from tests.support.venue import RequestRecorder, SteppableClock
from venue.engine import Engine, Limit, OrderRequest, Tif
from venue.server.app import create_app
from venue.server.serve import BackgroundServer, bind_socket


@dataclass
class Restartable:
    """A venue served on a fixed port that a test can stop and start again (same engine, same account)."""

    engine: Engine
    clock: SteppableClock
    requests: list = field(default_factory=list)
    server: BackgroundServer | None = None
    port: int = 0

    def start(self) -> str:
        app = RequestRecorder(create_app(self.engine, clock=self.clock, push_interval=0.02, advance_interval=0.02),
                              self.requests)
        self.server = BackgroundServer(app, bind_socket("127.0.0.1", self.port), "warning", 5.0)
        self.server.start(10.0)
        self.port = self.server.port
        return self.server.url

    def stop(self) -> None:
        assert self.server is not None and self.server.stop(10.0)

    def requested(self, kind: str) -> int:
        return sum(1 for path, body in self.requests
                   if (body.get("action", {}).get("type") if path == "/exchange" else body.get("type")) == kind)


@pytest.fixture
def venue() -> Iterator[Restartable]:
    clock, engine = marked_engine()
    maker = eth_account.Account.create().address
    engine.fund(maker, 100_000_000)
    for index, coin in ((0, "BTC"), (1, "ETH")):
        mark = MARKS[coin]
        engine.place_orders(maker, [OrderRequest(index, True, str(round(mark * 0.999, 2)), "50", False, Limit(Tif.GTC)),
                                    OrderRequest(index, False, str(round(mark * 1.001, 2)), "50", False,
                                                 Limit(Tif.GTC))])
    setup = Restartable(engine, clock)
    setup.start()
    yield setup
    if setup.server is not None:
        setup.server.stop(10.0)


def bar(coin: str, ts: int) -> Bar:
    px = MARKS[coin]
    return Bar(ts=ts, id=f"{coin}@{ts}", coin=coin, interval="1s", open=px, high=px, low=px, close=px, volume=1.0,
               notional=px, vwap=px, trades=1, buy_volume=0.5, sell_volume=0.5)


def test_ws_drop_mid_run_reconnects_reconciles_and_loses_or_doubles_no_fill(venue: Restartable,
                                                                             tmp_path: Path) -> None:
    wallet = eth_account.Account.create()
    with venue.engine.lock:
        venue.engine.fund(wallet.address, 100_000)
    url = venue.server.url
    executor = HyperliquidExecutor(ExchangeClient(url, L1Signer(bytes(wallet.key))), wallet.address)
    router = OrderRouter(executor, executor.rules, OrderJournal(tmp_path / "cloids"))
    stream = UserStreamThread(url, wallet.address, retry_s=0.1).start()
    desk = Desk(router, executor, executor.rules, capital=100_000.0, reconcile_interval_s=1e9, stream=stream,
                max_var_99=750.0)
    emitted: list = []

    def run(*events: object) -> list:
        out = desk.on_events(list(events))
        emitted.extend(out)
        return out

    try:
        now = venue.engine.now_ms
        eventually(lambda: run(bar("ETH", now), bar("BTC", now)) is not None and desk.stream_live)
        pulls = venue.requested("userFillsByTime")

        # A spread opens; its fills arrive over the WebSocket, not from a REST pull.
        entry = Signal(ts=now, id="ETH/BTC:1", pair="ETH/BTC", hedge_ratio=1.0, spread=0.0, zscore=-2.5, target=1.0,
                       reason="entry-long", legs=("ETH", "BTC"), hedge_ratios=(1.0,), leg_targets=(1.0, -0.03))
        out = run(entry)
        assert venue.requested("userFillsByTime") == pulls
        assert (desk.position("ETH"), desk.position("BTC")) == (1.0, -0.03)
        assert sorted(e.coin for e in out if isinstance(e, Fill)) == ["BTC", "ETH"]
        (eth_order,) = [o for o in desk.router.tracker.orders.values() if o.coin == "ETH"]
        assert (eth_order.status, eth_order.filled_sz) == ("filled", 1.0)

        # A resting buy of the desk (best bid, journaled as the router does) fills while the venue is down.
        router.journal.record("0x" + "ab" * 16)
        resting = executor.place([LegOrder("ETH", True, 0.5, 1999.0, "0x" + "ab" * 16, tif="Gtc")])[0]
        assert resting.status == "resting"
        venue.stop()
        eventually(lambda: run() is not None and not desk.stream_live)
        with venue.engine.lock:
            seller = eth_account.Account.create().address
            venue.engine.fund(seller, 1_000_000)
            venue.engine.place_orders(seller, [OrderRequest(1, False, "1999", "0.5", False, Limit(Tif.IOC))])
        venue.start()
        orders_before = venue.requested("order")

        # The reconnect is reconciled: the missed fill is pulled, the books agree, nothing is sent twice.
        eventually(lambda: run(bar("ETH", now + 1)) is not None and desk.stream_live, timeout=15)
        assert desk.position("ETH") == 1.5 and desk.blocked == ""
        assert venue.requested("userFillsByTime") > pulls
        assert run(entry) == []
        assert venue.requested("order") == orders_before
        fills = [e.id for e in emitted if isinstance(e, Fill)]
        assert sorted(fills) == sorted(str(f.tid) for f in venue.engine.user_fills(wallet.address))
        state = executor.clearinghouse()
        assert {p["position"]["coin"]: float(p["position"]["szi"]) for p in state["assetPositions"]} == {
            "ETH": 1.5, "BTC": -0.03}
        # Every fill moved the desk's own position row; every record carries the desk clock's time.
        ours = {e.coin: e.szi for e in emitted if isinstance(e, Position) and e.id.startswith("desk:")}
        assert ours == {"ETH": 1.5, "BTC": -0.03}
        assert [type(e).__name__ for e in emitted if not e.recv_ts] == []

        # An hour boundary settles funding on the held positions: it arrives over the stream, and the account's
        # change is our realised PnL less fees plus funding, to the cent.
        venue.clock.step(3_600_000)
        paid = eventually(lambda: venue.engine.user_funding(wallet.address, 0), timeout=15)
        eventually(lambda: run() is not None and any(isinstance(e, FundingPayment) for e in emitted), timeout=15)
        assert sorted(e.id for e in emitted if isinstance(e, FundingPayment)) == sorted(
            f"{p.time_ms}:{p.coin}" for p in paid)
        books = desk.ledger.coins.values()
        ours = sum(Decimal(str(b.realized)) - Decimal(str(b.fees)) + Decimal(str(b.funding)) for b in books)
        account = venue.engine.clearinghouse_state(wallet.address)
        change = account.margin_summary.account_value - 100_000 - sum(p.unrealized_pnl for p in account.positions)
        assert abs(change - ours) < Decimal("0.01") and sum(b.funding for b in books) != 0
        # The risk gauges follow the desk: its limits, and the drawdown from the equity peak its PnL reached.
        assert sample("pairflow_risk_var_limit_usd") == 750.0
        assert sample("pairflow_risk_drawdown_limit_ratio") == 500.0 / 100_000.0
        equity = [100_000.0 + e.equity for e in emitted if isinstance(e, Pnl) and e.scope == "portfolio"]
        peak = max([100_000.0, *equity])
        assert sample("pairflow_risk_drawdown_ratio", scope="portfolio") == pytest.approx(1 - equity[-1] / peak)
    finally:
        stream.close()
