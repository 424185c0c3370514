"""The order router against the venue over HTTP: nonces, cloids, rounding, UNKNOWN orders, leg risk, dead-man switch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import eth_account
import pytest
import structlog.testing

from operators.order_rules import AssetRules
from operators.risk_checks import PreTrade, RiskLimits
from operators.trading_costs import LegCost
from pairflow.clock import ManualClock
from pairflow.hyperliquid.exchange_client import ExchangeClient
from pairflow.hyperliquid.signer import L1Signer
from sinks.execution import LegPlan, OrderRouter, RouterConfig
from sinks.executor import HyperliquidExecutor, LegOrder, OrderStateUnknown, Placement
from sinks.order_journal import OrderJournal
from tests.helpers import SHARED
from tests.metrics_support import sample
from tests.support.venue import SteppableClock, run_venue
from venue.engine import AssetSpec, Engine, Limit, OrderRequest, Tif

SUBMITTED, REJECTED = "pairflow_execution_orders_submitted_total", "pairflow_execution_orders_rejected_total"
ASSETS = [AssetSpec("BTC", 5, 40), AssetSpec("ETH", 4, 25), AssetSpec("SOL", 2, 20)]
MARKS = {"BTC": 60_000.0, "ETH": 2_000.0, "SOL": 150.0}


@dataclass
class Setup:
    engine: Engine
    url: str
    requests: list = field(default_factory=list)

    def trader(self, usdc: float = 100_000.0) -> tuple[str, ExchangeClient]:
        account = eth_account.Account.create()
        with self.engine.lock:
            self.engine.fund(account.address, usdc)
        return account.address, ExchangeClient(self.url, L1Signer(bytes(account.key)))

    def book(self, coin: str, depth: str = "50") -> None:
        maker = eth_account.Account.create().address
        index = [a.name for a in ASSETS].index(coin)
        mark = MARKS[coin]
        with self.engine.lock:
            self.engine.fund(maker, 100_000_000)
            self.engine.place_orders(maker, [
                OrderRequest(index, True, str(round(mark * 0.999, 2)), depth, False, Limit(Tif.GTC)),
                OrderRequest(index, False, str(round(mark * 1.001, 2)), depth, False, Limit(Tif.GTC))])


def marked_engine() -> tuple[SteppableClock, Engine]:
    """Return a steppable clock and an engine of ASSETS with oracles at MARKS."""
    clock = SteppableClock()
    engine = Engine(ASSETS, now_ms=clock())
    for coin, px in MARKS.items():
        engine.set_oracle(coin, px)
    return clock, engine


@pytest.fixture
def venue() -> Iterator[Setup]:
    clock, engine = marked_engine()
    log: list = []
    with run_venue(engine, clock=clock, advance_interval=0.02, push_interval=0.05, request_log=log) as url:
        yield Setup(engine, url, log)


def context(now_ms: int) -> PreTrade:
    return PreTrade(now_ms=now_ms, positions={}, marks=MARKS, equity=100_000.0,
                    last_data_ms={coin: now_ms for coin in MARKS})


def router(venue: Setup, tmp_path: Path, **config: object) -> tuple[OrderRouter, HyperliquidExecutor]:
    address, client = venue.trader()
    executor = HyperliquidExecutor(client, address)
    return OrderRouter(executor, executor.rules, OrderJournal(tmp_path / "cloids"),
                       config=RouterConfig(**config), limits=RiskLimits(max_order_notional=50_000.0)), executor


def positions(executor: HyperliquidExecutor) -> dict[str, float]:
    state = executor.clearinghouse()
    return {p["position"]["coin"]: float(p["position"]["szi"]) for p in state["assetPositions"]}


def orders_sent(venue: Setup) -> list[dict]:
    return [o for path, body in venue.requests if path == "/exchange" and body["action"]["type"] == "order"
            for o in body["action"]["orders"]]


def test_twenty_concurrent_orders_get_twenty_distinct_accepted_nonces(venue: Setup) -> None:
    venue.book("ETH")
    address, client = venue.trader()
    executor = HyperliquidExecutor(client, address)
    legs = [LegOrder("ETH", True, 0.01, 1_900.0 + i, f"0x{i:032x}", tif="Gtc") for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        placements = list(pool.map(lambda leg: executor.place([leg])[0], legs))
    assert [p.status for p in placements] == ["resting"] * 20
    nonces = [body["nonce"] for path, body in venue.requests if path == "/exchange"]
    assert len(nonces) == len(set(nonces)) == 20


def test_a_pair_trade_fills_both_legs_and_a_replayed_signal_sends_nothing(venue: Setup, tmp_path: Path) -> None:
    venue.book("ETH")
    venue.book("BTC")
    route, executor = router(venue, tmp_path)
    plans = [LegPlan("ETH", 1.0, MARKS["ETH"], "sig-1", "ETH/BTC", liquidity=2.0),
             LegPlan("BTC", -0.0333, MARKS["BTC"], "sig-1", "ETH/BTC", liquidity=1.0)]
    events = route.execute(plans, context(venue.engine.now_ms))
    assert [(e.coin, e.status) for e in events] == [("BTC", "pending"), ("BTC", "filled"),
                                                    ("ETH", "pending"), ("ETH", "filled")]
    assert positions(executor) == {"ETH": 1.0, "BTC": -0.0333}
    route.journal.close()
    again = OrderRouter(executor, executor.rules, OrderJournal(tmp_path / "cloids"))
    assert again.execute(plans, context(venue.engine.now_ms)) == []
    assert len(orders_sent(venue)) == 2


def test_an_unfilled_second_leg_is_completed_or_unwound(venue: Setup, tmp_path: Path) -> None:
    venue.book("BTC")
    route, executor = router(venue, tmp_path)
    plans = [LegPlan("BTC", 0.01, MARKS["BTC"], "sig-2", "BTC/SOL", liquidity=1.0),
             LegPlan("SOL", -4.0, MARKS["SOL"], "sig-2", "BTC/SOL", liquidity=2.0)]
    events = route.execute(plans, context(venue.engine.now_ms))
    alerts = [e for e in events if type(e).__name__ == "Alert"]
    assert alerts and "SOL did not fill; unwinding BTC" in alerts[0].message
    assert [o["r"] for o in orders_sent(venue)] == [False, False, False, True]
    assert positions(executor).get("BTC", 0.0) == 0.0


class LostAnswers(HyperliquidExecutor):
    """The venue receives and executes the order, but the answer is lost on the way back."""

    def place(self, orders: list[LegOrder], expires_after: int | None = None) -> list[Placement]:
        super().place(orders, expires_after)
        raise OrderStateUnknown("answer lost")


def test_a_timed_out_order_is_resolved_by_its_cloid_and_never_resent(venue: Setup, tmp_path: Path) -> None:
    venue.book("ETH")
    address, client = venue.trader()
    executor = LostAnswers(client, address)
    route = OrderRouter(executor, executor.rules, OrderJournal(tmp_path / "cloids"))
    events = route.execute([LegPlan("ETH", 0.5, MARKS["ETH"], "sig-3")], context(venue.engine.now_ms))
    assert [e.status for e in events] == ["pending", "unknown", "filled"]
    assert len(orders_sent(venue)) == 1
    status_queries = [b for p, b in venue.requests if p == "/info" and b["type"] == "orderStatus"]
    assert status_queries[0]["oid"] == events[0].cloid


def test_every_risk_refusal_refuses_the_whole_spread_with_its_reason(venue: Setup, tmp_path: Path) -> None:
    route, _ = router(venue, tmp_path)
    plans = [LegPlan("ETH", 1.0, MARKS["ETH"], "sig-4"), LegPlan("BTC", -0.00001, MARKS["BTC"], "sig-4")]
    events = route.execute([plans[0], LegPlan("BTC", -0.0001, MARKS["BTC"], "sig-4")], context(venue.engine.now_ms))
    assert [e.reason for e in events] == ["spread_refused: min_notional: 5.98 USDC is under the 10 USDC minimum",
                                          "min_notional: 5.98 USDC is under the 10 USDC minimum"]
    assert orders_sent(venue) == []


def test_dead_man_switch_and_shutdown_cancel_resting_orders(venue: Setup, tmp_path: Path) -> None:
    venue.book("ETH")
    route, executor = router(venue, tmp_path, order_type="post_only", dead_man_s=30.0, leg_timeout_s=0.2)
    route.heartbeat()
    events = route.execute([LegPlan("ETH", 0.5, MARKS["ETH"], "sig-5")], context(venue.engine.now_ms))
    assert [e.status for e in events] == ["pending", "open", "canceled"]
    actions = [b["action"]["type"] for p, b in venue.requests if p == "/exchange"]
    assert actions == ["scheduleCancel", "order", "cancelByCloid"]
    assert executor.open_orders() == []
    route.shutdown()
    assert [b["action"] for p, b in venue.requests if p == "/exchange"][-1] == {"type": "scheduleCancel"}


def test_rounding_is_accepted_by_the_venue_for_every_asset_in_its_meta() -> None:
    meta = json.loads((SHARED / "hyperliquid/fixtures/info_meta_2023.json").read_text())["response"]
    specs = [AssetSpec(a["name"], a["szDecimals"], a["maxLeverage"]) for a in meta["universe"]]
    engine = Engine(specs, now_ms=SteppableClock()())
    oracles = {spec.name: 10.0 ** (spec.sz_decimals - 1) * 1.2345678 for spec in specs}
    for coin, px in oracles.items():
        engine.set_oracle(coin, px * 1000)
    with run_venue(engine) as url:
        setup = Setup(engine, url)
        address, client = setup.trader(10_000_000.0)
        executor = HyperliquidExecutor(client, address)
        rules = AssetRules.from_meta(meta)
        legs = []
        for coin, px in oracles.items():
            price = rules.price(coin, px * 1000 * 0.987654321, "down")
            legs.append(LegOrder(coin, True, max(rules.size(coin, 15.0 / price), 10.0 ** -rules.decimals(coin)), price,
                                 f"0x{len(legs) + 1:032x}", tif="Gtc"))
        placements = executor.place(legs)
    assert [(leg.coin, p.status, p.error) for leg, p in zip(legs, placements, strict=True)] == [
        (leg.coin, "resting", "") for leg in legs]


def test_post_only_mode_pauses_taker_legs_and_they_resume_after(venue: Setup, tmp_path: Path) -> None:
    venue.book("ETH")
    venue.book("BTC")
    clock = ManualClock(venue.engine.now_ms)
    route, executor = router(venue, tmp_path, taker_pause_s=60.0)
    route.clock = clock
    with venue.engine.lock:
        venue.engine.set_post_only("BTC")
    submitted, paused_before = sample(SUBMITTED, coin="ETH"), sample(REJECTED, coin="ETH", reason="taker_paused")
    plans = [LegPlan("ETH", 0.5, MARKS["ETH"], "sig-6", "ETH/BTC", liquidity=2.0),
             LegPlan("BTC", -0.0166, MARKS["BTC"], "sig-6", "ETH/BTC", liquidity=1.0)]
    first = route.execute(plans, context(venue.engine.now_ms))
    # The thinner leg met the exchange's post-only state: refused with its reason, no retry, no other leg sent.
    assert [(e.coin, e.status) for e in first] == [("BTC", "pending"), ("BTC", "rejected")]
    assert first[-1].reason.startswith("taker_paused: Only post-only orders are allowed")
    assert len(orders_sent(venue)) == 1
    # While paused, taker legs are refused before reaching the exchange.
    paused = route.execute([LegPlan("ETH", 0.5, MARKS["ETH"], "sig-7")], context(venue.engine.now_ms))
    assert [(e.status, e.reason) for e in paused] == [
        ("rejected", "taker_paused: the exchange allows only post-only orders")]
    assert len(orders_sent(venue)) == 1
    # Both refusals are counted: the exchange's by its text (numbers dropped), ours by the check's name.
    assert sample(REJECTED, coin="BTC",
                  reason="Only post-only orders are allowed while this market is in post-only mode.") >= 1
    assert (sample(SUBMITTED, coin="ETH") - submitted,
            sample(REJECTED, coin="ETH", reason="taker_paused") - paused_before) == (1.0, 1.0)
    with venue.engine.lock:
        venue.engine.set_post_only("BTC", on=False)
    clock.advance(59_000)
    still = route.execute([LegPlan("ETH", 0.5, MARKS["ETH"], "sig-7b")], context(venue.engine.now_ms))
    assert [e.status for e in still] == ["rejected"] and len(orders_sent(venue)) == 1
    clock.advance(1_000)  # the pause (RouterConfig.taker_pause_s, on the router's clock) is over
    resumed = route.execute([LegPlan("ETH", 0.5, MARKS["ETH"], "sig-8"),
                             LegPlan("BTC", -0.0166, MARKS["BTC"], "sig-8", liquidity=-1.0)],
                            context(venue.engine.now_ms))
    assert [(e.coin, e.status) for e in resumed] == [("BTC", "pending"), ("BTC", "filled"),
                                                     ("ETH", "pending"), ("ETH", "filled")]
    assert positions(executor) == {"ETH": 0.5, "BTC": -0.0166}


def test_auto_order_type_follows_the_cost_model(venue: Setup, tmp_path: Path) -> None:
    venue.book("ETH")
    venue.book("BTC")
    route, _ = router(venue, tmp_path, order_type="auto", leg_timeout_s=0.1)
    tight, wide = LegCost(0.0002, 0.0), LegCost(0.002, 0.0)
    ctx = context(venue.engine.now_ms)
    route.execute([LegPlan("ETH", 0.5, MARKS["ETH"], "auto-1", cost=tight)], ctx)
    route.execute([LegPlan("ETH", 0.5, MARKS["ETH"], "auto-2", cost=wide)], ctx)
    route.execute([LegPlan("ETH", 0.5, MARKS["ETH"], "auto-3", cost=tight, urgent=True)], ctx)
    route.execute([LegPlan("BTC", 0.01, MARKS["BTC"], "auto-4")], ctx)
    sent = [(o["t"]["limit"]["tif"], float(o["p"])) for o in orders_sent(venue)]
    # tight book: post-only just inside the mark; wide book: Gtc at the mark; urgent or unknown book: IOC in the band
    assert sent == [("Alo", 1999.6), ("Gtc", 2000.0), ("Ioc", 2006.0), ("Ioc", 60180.0)]


def test_a_later_leg_filled_in_part_trims_the_earlier_legs_to_the_same_fraction(venue: Setup, tmp_path: Path) -> None:
    venue.book("BTC")
    venue.book("ETH", depth="0.2")
    route, executor = router(venue, tmp_path)
    plans = [LegPlan("BTC", -0.0333, MARKS["BTC"], "sig-9", "ETH/BTC", liquidity=1.0),
             LegPlan("ETH", 1.0, MARKS["ETH"], "sig-9", "ETH/BTC", liquidity=2.0)]
    events = route.execute(plans, context(venue.engine.now_ms))
    alerts = [e for e in events if type(e).__name__ == "Alert"]
    assert [a.message for a in alerts] == ["legs filled 20% of the spread; trimming BTC"]
    # BTC filled whole, ETH 0.2 of 1.0 (the book held no more, even at twice the slippage): BTC is cut to 20%.
    assert positions(executor) == {"ETH": 0.2, "BTC": -0.00666}
    trim = orders_sent(venue)[-1]
    assert (trim["b"], trim["s"], trim["r"]) == (True, "0.02664", True)


class Late(HyperliquidExecutor):
    """Its requests reach the venue a minute after they were stamped, as a request held up in the network does."""

    def now_ms(self) -> int:
        return super().now_ms() - 60_000


def test_an_order_that_arrives_after_its_expiry_is_not_placed_logged_and_not_retried(
    venue: Setup, tmp_path: Path
) -> None:
    venue.book("ETH")
    address, client = venue.trader()
    executor = Late(client, address)
    route = OrderRouter(executor, executor.rules, OrderJournal(tmp_path / "cloids"),
                        config=RouterConfig(order_lifetime_s=10.0))
    with structlog.testing.capture_logs() as logs:
        events = route.execute([LegPlan("ETH", 0.5, MARKS["ETH"], "sig-late")], context(venue.engine.now_ms))
    assert [(e.status, e.reason) for e in events] == [("pending", ""), ("rejected", "Action already expired")]
    (body,) = [b for p, b in venue.requests if p == "/exchange"]
    assert body["expiresAfter"] == OrderJournal(tmp_path / "cloids").expires[events[0].cloid]
    assert positions(executor) == {}
    expired = [e for e in logs if e["event"] == "order reached the exchange after its expiresAfter: not placed, not retried"]
    assert [e["log_level"] for e in expired] == ["warning"]


class NeverSent(HyperliquidExecutor):
    """The order request is lost on the way out (the venue never sees it); ``ahead_ms`` moves the request clock."""

    ahead_ms = 0

    def now_ms(self) -> int:
        return super().now_ms() + self.ahead_ms

    def place(self, orders: list[LegOrder], expires_after: int | None = None) -> list[Placement]:
        raise OrderStateUnknown("request lost")


def test_an_order_unknown_to_the_venue_counts_as_not_received_only_after_its_expiry(
    venue: Setup, tmp_path: Path
) -> None:
    address, client = venue.trader()
    executor = NeverSent(client, address)
    route = OrderRouter(executor, executor.rules, OrderJournal(tmp_path / "cloids"),
                        config=RouterConfig(status_retries=1), sleep=lambda seconds: None)
    events = route.execute([LegPlan("ETH", 0.5, MARKS["ETH"], "sig-lost")], context(venue.engine.now_ms))
    # asked at once: unknownOid, but the request could still arrive until its expiry, so it stays unknown
    assert [e.status for e in events if type(e).__name__ == "Order"] == ["pending", "unknown"]
    cloid = events[0].cloid
    assert route.settle([cloid]) == []
    executor.ahead_ms = 11_001  # past the 10 s lifetime and the second of skew
    (settled,) = route.settle([cloid])
    assert (settled.status, settled.reason) == ("rejected", "not received by the exchange")
    assert orders_sent(venue) == []
