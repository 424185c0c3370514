"""Simulated executor: the venue engine fills at the bar price, charges the fee model and the recorded funding."""

from __future__ import annotations

from decimal import Decimal

from operators.order_rules import AssetRules
from sinks.executor import HyperliquidExecutor, LegOrder
from sinks.simulated import FlatFees, RecordedFunding, SimulatedExecutor, SimulatedMarket
from venue.engine import AssetSpec, Engine, Limit, OrderRequest, Tif
from venue.inprocess import InProcessClient

TRADER = "0x" + "7" * 40


def _setup(rate: float = 0.0):
    engine = Engine([AssetSpec("ETH", 4, 25)], now_ms=3_600_000, fee_model=FlatFees(0.0005),
                    funding_model=RecordedFunding({("ETH", 7_200_050): rate}))
    engine.fund(TRADER, "10000")
    inner = HyperliquidExecutor(InProcessClient(engine, TRADER), TRADER)  # type: ignore[arg-type]
    market = SimulatedMarket(engine, AssetRules({"ETH": 4}), 10_000)
    return engine, market, SimulatedExecutor(market, inner)


def test_a_marketable_order_fills_at_the_bar_price_with_the_fee_and_a_limit_short_of_it_does_not() -> None:
    engine, market, executor = _setup()
    market.mark("ETH", 2000.0)
    market.fill_at("ETH", 2000.0)
    (filled,) = executor.place([LegOrder("ETH", True, 0.5, 2006.0, "0x" + "1" * 32)])
    (missed,) = executor.place([LegOrder("ETH", True, 0.5, 1999.0, "0x" + "2" * 32)])
    assert (filled.status, filled.filled_sz, filled.avg_px) == ("filled", 0.5, 2000.0)
    assert missed.status == "rejected" and missed.filled_sz == 0.0
    (fill,) = engine.user_fills(TRADER)
    assert fill.fee == Decimal("0.500000")
    assert not engine.open_orders("0x" + "1" * 40)  # the liquidity quote was withdrawn


def test_recorded_funding_is_charged_on_the_open_position_each_hour() -> None:
    engine, market, executor = _setup(rate=0.0002)
    market.mark("ETH", 2000.0)
    market.fill_at("ETH", 2000.0)
    executor.place([LegOrder("ETH", False, 1.0, 1990.0, "0x" + "3" * 32)])
    market.advance(7_200_000 + 1)
    (payment,) = engine.user_funding(TRADER, 0)
    assert payment.usdc == Decimal("0.4")  # short 1 ETH receives 0.0002 x 2000


def test_recorded_funding_samples_no_premium_so_a_rich_book_changes_nothing() -> None:
    engine, market, executor = _setup(rate=0.0002)
    market.mark("ETH", 2000.0)
    market.fill_at("ETH", 2000.0)
    executor.place([LegOrder("ETH", False, 1.0, 1990.0, "0x" + "3" * 32)])
    # a bid resting 5% over the oracle would give the venue's formula a large premium
    engine.place_orders("0x" + "5" * 40, [OrderRequest(0, True, Decimal("2100"), Decimal("1"),
                                                        order_type=Limit(Tif.GTC))])
    market.advance(7_200_000 + 1)
    (payment,) = engine.user_funding(TRADER, 0)
    (row,) = engine.funding_history("ETH", 7_200_000)
    assert (payment.usdc, payment.rate, payment.samples) == (Decimal("0.4"), Decimal("0.0002"), 0)
    assert (row.rate, row.premium) == (Decimal("0.0002"), Decimal(0))
