"""The execution side of a clock jump: the host's clock steps (NTP, a resumed VM) under a trading router.

The order-rate limit reads market-data time (``PreTrade.now_ms``, the exchange's event time);
the router used to stamp its sends with the host's clock, so a host clock an hour behind the
exchange (or stepped back an hour) never counted an order against the limit, and one an hour
ahead kept counting the last minute's orders for an hour. Here the host clock is stepped by any
amount between orders sent to the served venue: the limit decides on market time alone.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from operators.risk_checks import RiskLimits
from sinks.execution import LegPlan, OrderRouter
from sinks.executor import HyperliquidExecutor
from sinks.order_journal import OrderJournal
from tests.integration.test_order_router import MARKS, Setup, context, venue  # noqa: F401 - the venue fixture
from tests.reliability.test_clock_jump import SteppedClock

_runs = itertools.count()
DAY_MS = 86_400_000


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset_ms=st.integers(-DAY_MS, DAY_MS), jump_ms=st.integers(-DAY_MS, DAY_MS))
@example(offset_ms=0, jump_ms=-3_600_000)
@example(offset_ms=0, jump_ms=3_600_000)
def test_the_order_rate_limit_counts_on_market_time_whatever_the_hosts_clock_does(
    venue: Setup, tmp_path: Path, offset_ms: int, jump_ms: int
) -> None:
    venue.book("ETH")
    address, client = venue.trader()
    executor = HyperliquidExecutor(client, address)
    run = next(_runs)
    market_ms = venue.engine.now_ms
    host = SteppedClock()
    host.ms = market_ms + offset_ms
    route = OrderRouter(executor, executor.rules, OrderJournal(tmp_path / f"cloids-{run}"), clock=host,
                        limits=RiskLimits(max_order_notional=50_000.0, max_orders_per_minute=2))

    def send(number: int, at_ms: int) -> list[tuple[str, str]]:
        plan = LegPlan("ETH", 0.01, MARKS["ETH"], f"sig-{run}-{number}")
        return [(order.status, order.reason) for order in route.execute([plan], context(at_ms))][-1:]

    assert send(1, market_ms) == [("filled", "")]
    host.ms += jump_ms  # the host's clock steps between two orders
    assert send(2, market_ms + 1_000) == [("filled", "")]
    assert send(3, market_ms + 2_000) == [("rejected", "order_rate: 2 orders in the last minute, limit 2")]
    assert send(4, market_ms + 61_000) == [("filled", "")]  # a minute of market time after the first
