"""Execution's pure parts on examples and the shared Hyperliquid captures: rules, netting, orders, PnL, risk, reconciliation."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from operators.check import check_operator
from operators.netting import NetTargets, SpreadTarget, size_spread
from operators.order_rules import AssetRules, UnknownCoinError
from operators.orders import OrderTracker, cloid_for
from operators.pnl_ledger import PnlLedger
from operators.reconcile import mismatches
from pairflow.hyperliquid.user_parse import (
    fills_from_wire, funding_from_wire, open_orders_from_wire, positions_from_wire,
)
from operators.risk_checks import OrderCheck, PreTrade, RiskLimits, in_position, pre_trade
from pairflow.errors import ParseError
from pairflow.events import Fill, FundingPayment, Order, OrderIntent
from tests.helpers import SHARED

CAPTURES = SHARED / "hyperliquid" / "fixtures"


def capture(name: str) -> object:
    return json.loads((CAPTURES / name).read_text())["response"]


def fill(tid: str, side: str, sz: float, px: float, cloid: str = "c1", fee: float = 0.0, coin: str = "ETH") -> Fill:
    return Fill(ts=int(tid), id=tid, coin=coin, oid=1, cloid=cloid, px=px, sz=sz, side=side, fee=fee,
                closed_pnl=0.0, crossed=True)


def test_sizes_are_looked_up_by_name_and_an_unknown_coin_is_named() -> None:
    rules = AssetRules.from_meta(capture("info_meta_2023.json"))
    assert rules.size("BTC", 0.123456789) == 0.12345 and rules.size("ETH", 1.23456) == 1.2345
    with pytest.raises(UnknownCoinError, match="'NOPE'"):
        rules.size("NOPE", 1.0)


def test_spread_below_minimum_is_refused_whole_and_a_zero_rounding_is_named() -> None:
    rules = AssetRules({"ETH": 4, "DOGE": 0})
    prices = {"ETH": 2000.0, "DOGE": 0.1}
    assert size_spread(("ETH", "DOGE"), (0.1, -0.4), prices, rules)[1].startswith("rounding: DOGE")
    sizes, reason = size_spread(("ETH", "DOGE"), (0.0049, -95.0), prices, rules)
    assert sizes == () and reason.startswith("min_notional: ETH leg 9.80")


def test_netting_operator_passes_the_conformance_battery() -> None:
    targets = [SpreadTarget(f"P{i % 3}", f"s{i}", i, ("ETH", f"C{i % 2}"), (0.5 * (i % 4 - 2), 1.0 * i))
               for i in range(12)]
    check_operator(NetTargets(), targets)


def test_unknown_order_moves_only_on_a_status_report_and_fills_count_once() -> None:
    tracker = OrderTracker()
    base = dict(id="c1", coin="ETH", cloid="c1", is_buy=True, sz=2.0, limit_px=2000.0)
    assert tracker.update(Order(ts=1, oid=None, status="pending", **base))[0].status == "pending"
    assert tracker.update(Order(ts=2, oid=None, status="unknown", reason="timeout", **base))[0].status == "unknown"
    assert tracker.update(Order(ts=3, oid=None, status="pending", **base)) == []
    assert tracker.open_cloids() == ["c1"]
    assert tracker.update(Order(ts=4, oid=5, status="open", **base))[0].oid == 5
    for _ in range(3):
        tracker.update(fill("10", "B", 1.5, 2000.0))
    done = tracker.update(fill("11", "B", 0.5, 1990.0))[0]
    assert (done.status, done.filled_sz, done.avg_px) == ("filled", 2.0, 1997.5)
    assert tracker.open_cloids() == [] and tracker.update(Order(ts=9, oid=5, status="canceled", **base)) == []


def test_order_tracker_and_pnl_ledger_pass_the_conformance_battery() -> None:
    orders = [Order(ts=1, id="c1", coin="ETH", cloid="c1", oid=None, is_buy=True, sz=2.0, limit_px=1.0,
                    status="pending")]
    stream = orders + [fill(str(i), "B" if i % 3 else "A", 0.5, 2000.0 + i) for i in range(10)]
    check_operator(OrderTracker(), stream)
    intent = OrderIntent(ts=0, id="c1", coin="ETH", pair="ETH/BTC", is_buy=True, sz=1.0, limit_px=1.0)
    funding = FundingPayment(ts=5, id="f1", coin="ETH", usdc=-0.25, szi=1.0, rate=0.0001)
    check_operator(PnlLedger(), [intent, *stream[1:6], funding, *stream[6:]])


def test_cloid_is_one_per_signal_leg_and_valid_for_the_sdk() -> None:
    from hyperliquid.utils.types import Cloid

    ids = {cloid_for(f"sig-{i}", coin) for i in range(200) for coin in ("ETH", "BTC")}
    assert len(ids) == 400
    assert Cloid.from_str(cloid_for("sig-1", "ETH")).to_raw() == cloid_for("sig-1", "ETH")


def test_pnl_equity_is_fills_fees_and_funding_split_across_spreads() -> None:
    ledger = PnlLedger()
    for cloid, pair in (("a", "ETH/BTC"), ("b", "ETH/SOL")):
        ledger.update(OrderIntent(ts=0, id=cloid, coin="ETH", pair=pair, is_buy=True, sz=1.0, limit_px=1.0))
    ledger.update(fill("1", "B", 1.0, 2000.0, "a", fee=1.0))
    ledger.update(fill("2", "B", 3.0, 2000.0, "b", fee=3.0))
    out = ledger.update(FundingPayment(ts=3, id="f", coin="ETH", usdc=-4.0, szi=4.0, rate=0.0005))
    by_scope = {p.scope: p for p in out}
    assert by_scope["spread:ETH/BTC"].funding == -1.0 and by_scope["spread:ETH/SOL"].funding == -3.0
    out = ledger.update(fill("4", "A", 4.0, 2010.0, "b", fee=4.0))
    portfolio = next(p for p in out if p.scope == "portfolio")
    assert (portfolio.realized_pnl, portfolio.fees, portfolio.funding, portfolio.equity) == (40.0, 8.0, -4.0, 28.0)


LIMITS = RiskLimits(max_order_notional=5_000.0, max_coin_notional=6_000.0, max_gross_notional=9_000.0,
                    max_net_notional=7_000.0, max_leverage=2.0, price_band=0.05, stale_ms=5_000,
                    max_orders_per_minute=3, max_funding_cost=0.001)
RULES = AssetRules({"ETH": 4, "BTC": 5})


def context(**changes: object) -> PreTrade:
    base = dict(now_ms=100_000, positions={}, marks={"ETH": 2000.0, "BTC": 40000.0}, equity=10_000.0,
                last_data_ms={"ETH": 99_000, "BTC": 99_000})
    base.update(changes)
    return PreTrade(**base)


@pytest.mark.parametrize(("order", "ctx", "reason"), [
    (OrderCheck("ETH", 1.00001, 2000.0), context(), "rounding: 1.00001 @ 2000.0 is off the ETH grid"),
    (OrderCheck("ETH", 0.00001, 2000.0), context(), "rounding: size 1e-05 of ETH rounds to zero"),
    (OrderCheck("XYZ", 1.0, 2000.0), context(), "rounding: coin 'XYZ' is not in the exchange meta"),
    (OrderCheck("ETH", 0.004, 2000.0), context(), "min_notional: 8.00 USDC is under the 10 USDC minimum"),
    (OrderCheck("ETH", 3.0, 2000.0), context(), "max_order_notional: 6000.00 USDC exceeds 5000.00"),
    (OrderCheck("ETH", 2.0, 2000.0), context(positions={"ETH": 1.5}),
     "coin_exposure: ETH would be 7000.00 USDC, limit 6000.00"),
    (OrderCheck("ETH", -2.0, 2000.0), context(positions={"BTC": 0.15}, equity=100_000.0),
     "gross_exposure: 10000.00 USDC exceeds 9000.00"),
    (OrderCheck("ETH", 2.0, 2000.0), context(positions={"BTC": 0.08}, equity=100_000.0),
     "net_exposure: 7200.00 USDC exceeds ±7000.00"),
    (OrderCheck("ETH", 2.0, 2000.0), context(equity=1_000.0), "leverage: 4.00x exceeds 2.00x"),
    (OrderCheck("ETH", 1.0, 2200.0), context(), "price_band: 2200.0 is 10.00% from mark 2000.0, band 5.00%"),
    (OrderCheck("ETH", 1.0, 2000.0), context(last_data_ms={"ETH": 90_000}), "stale_data: ETH data is 10000 ms old"),
    (OrderCheck("ETH", 1.0, 2000.0), context(recent_orders_ms=(50_000, 60_000, 70_000)),
     "order_rate: 3 orders in the last minute, limit 3"),
    (OrderCheck("ETH", 1.0, 2000.0), context(funding_rates={"ETH": 0.0002}),
     "funding_cost: 0.1600% over 8 h exceeds 0.1000%"),
], ids=lambda value: value.split(":")[0] if isinstance(value, str) else "")
def test_every_pre_trade_check_rejects_with_its_reason(order: OrderCheck, ctx: PreTrade, reason: str) -> None:
    assert pre_trade(order, ctx, LIMITS, RULES) == reason


def test_reducing_orders_pass_exposure_checks_and_in_position_stops_fire() -> None:
    ctx = context(positions={"ETH": 4.0}, equity=1_000.0)
    assert pre_trade(OrderCheck("ETH", -2.0, 2000.0, reduce_only=True), ctx, LIMITS, RULES) == ""
    limits = RiskLimits(spread_stop_loss=50.0, time_stop_ms=1_000, daily_drawdown=100.0)
    assert in_position(-60.0, 0, 10, 0.0, limits).startswith("spread_stop_loss")
    assert in_position(0.0, 0, 1_001, 0.0, limits).startswith("time_stop")
    assert in_position(0.0, 0, 10, -100.0, limits).startswith("daily_drawdown")


def test_reconciliation_reads_every_capture() -> None:
    fills = fills_from_wire(capture("info_userFillsByTime_2023.json"), 1)
    assert len(fills) == len({f.id for f in fills}) > 0 and fills[0].coin == "SUI"
    ws = json.loads((CAPTURES / "ws_userFills_testnet_2023_thirdparty.json").read_text())["response"][0]
    assert fills_from_wire(ws["data"]["fills"], 1)[0].id == "1081959953107430"
    orders = open_orders_from_wire(capture("info_frontendOpenOrders_2023.json"), 1)
    assert {o.status for o in orders} == {"open"} and orders[0].oid == 3184595907
    positions, value = positions_from_wire(capture("info_clearinghouseState_2023.json"), 1)
    assert positions[0].coin == "BTC" and positions[0].szi == -0.00785 and value > 0
    payments = funding_from_wire(capture("info_userFunding_2024.json"), 1)
    assert payments[0].coin == "APE" and payments[0].usdc == 0.145796
    held = {p.coin: p.szi for p in positions}
    assert mismatches(held, positions, set(), []) == []
    assert mismatches({}, positions, set(), [])[0] == "position APE: ours 0.0, exchange -131.8"


def test_a_malformed_snapshot_is_one_parse_error() -> None:
    with pytest.raises(ParseError, match="fills"):
        fills_from_wire([{"coin": "ETH"}], 1)


def test_portfolio_risk_passes_the_conformance_battery() -> None:
    from operators.portfolio_risk import PortfolioRisk
    from pairflow.events import Bar, Position

    stream: list = [Position(ts=0, id="p", coin="ETH", szi=2.0, entry_px=100.0, mark_px=100.0, unrealized_pnl=0.0,
                             margin_used=0.0, leverage=1.0)]
    stream += [Bar(ts=i * 60_000, id=str(i), coin="ETH", interval="1m", open=1.0, high=1.0, low=1.0,
                   close=100.0 + math.sin(i), volume=1.0, notional=1.0, vwap=1.0, trades=1, buy_volume=0.5,
                   sell_volume=0.5) for i in range(60)]
    check_operator(PortfolioRisk(window=30), stream)


def test_a_position_just_opened_gets_its_var_at_the_next_bar_not_at_the_next_scheduled_row() -> None:
    """On a desk rows come once a minute of 1 s bars; a change of what is held does not wait for the minute."""
    from operators.portfolio_risk import PortfolioRisk
    from pairflow.events import Bar, Position

    def bar(second: int) -> Bar:
        close = 100.0 + math.sin(second)
        return Bar(ts=second * 1_000, id=str(second), coin="ETH", interval="1s", open=close, high=close, low=close,
                   close=close, volume=1.0, notional=close, vwap=close, trades=1, buy_volume=0.5, sell_volume=0.5)

    def held(size: float, second: int) -> Position:
        return Position(ts=second * 1_000, id=f"p{second}", coin="ETH", szi=size, entry_px=100.0, mark_px=100.0,
                        unrealized_pnl=0.0, margin_used=0.0, leverage=1.0)

    risk = PortfolioRisk(capital=10_000.0, window=300, interval_label="1s", every_ms=60_000)
    rows = {second: risk.update(bar(second)) for second in range(30)}
    assert [second for second, out in rows.items() if out] == [0]  # the schedule: one row a minute
    risk.update(held(2.0, 30))
    opened = {second: risk.update(bar(second)) for second in range(31, 40)}
    assert [second for second, out in opened.items() if out] == [31]  # at once, then back on the schedule
    assert {m.metric for m in opened[31]} >= {"var_hist", "es_hist", "exposure_gross", "leverage"}
    risk.update(held(2.0, 40))  # the same size again changes nothing
    risk.hold({"ETH": 2.0, "SOL": 0.0})  # nor does a flat coin (the desk passes every coin it has booked)
    assert not any(risk.update(bar(second)) for second in range(41, 50))
    risk.hold({"ETH": 0.0})  # closed: the next bar says so
    assert [m.value for m in risk.update(bar(50)) if m.metric == "exposure_gross"] == [0.0]
    scheduled = PortfolioRisk(window=300, interval_label="1s", every_ms=60_000, at_change=False)  # a backtest's
    assert [second for second in range(30) if scheduled.update(bar(second))] == [0]
    scheduled.update(held(2.0, 30))
    assert not any(scheduled.update(bar(second)) for second in range(31, 40))


def test_a_var_breach_alerts_once_on_the_way_up_and_once_back() -> None:
    from operators.portfolio_risk import PortfolioRisk
    from pairflow.events import RiskMetric
    from sinks.desk import Desk

    desk = Desk.__new__(Desk)
    desk.max_var_99, desk._var_breached = 100.0, False

    def var(value: float, ts: int) -> list[RiskMetric]:
        return [RiskMetric(ts=ts, id=str(ts), metric="var_hist", value=value, confidence=0.99, horizon="1x1s")]

    alerts = [desk._var_alert(var(v, i)) for i, v in enumerate((50.0, 150.0, 160.0, 90.0, 80.0))]
    assert [len(a) for a in alerts] == [0, 1, 0, 1, 0]
    assert alerts[1][0].message == "99% VaR 150.00 USD (1x1s) exceeds the 100.00 USD limit"
    assert alerts[3][0].severity == "info" and PortfolioRisk().every_ms == 0


@given(st.dictionaries(st.sampled_from(["BTC", "ETH", "SOL"]),
                       st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), max_size=3))
def test_only_a_size_left_by_fills_not_ours_is_named_and_each_once(outside: dict[str, float]) -> None:
    problems = mismatches({}, [], set(), [], outside=outside)
    named = [problem.split(" ")[1].rstrip(":") for problem in problems]
    assert named == sorted(coin for coin, size in outside.items() if abs(size) > 1e-9)
    assert all(problem.endswith("traded outside pairflow") for problem in problems)
