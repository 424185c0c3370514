"""Per-IP weight buckets and the documented request weights."""

from __future__ import annotations

from venue.server.ratelimit import (
    AddressBudget,
    IpRateLimiter,
    exchange_weight,
    info_base_weight,
    info_extra_weight,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_weights_follow_the_documented_table():
    assert info_base_weight("l2Book") == 2
    assert info_base_weight("userRole") == 60
    assert info_base_weight("meta") == 20
    assert info_extra_weight("userFills", [{}] * 45) == 2
    assert info_extra_weight("candleSnapshot", [{}] * 130) == 2
    assert info_extra_weight("meta", [{}] * 130) == 0
    assert exchange_weight({"type": "order", "orders": [{}] * 85}) == 3
    assert exchange_weight({"type": "noop"}) == 1


def test_bucket_refuses_then_refills():
    clock = FakeClock()
    limiter = IpRateLimiter(60, monotonic=clock)
    assert limiter.try_acquire("1.1.1.1", 40)
    assert not limiter.try_acquire("1.1.1.1", 40)
    assert limiter.try_acquire("2.2.2.2", 40)
    clock.now = 20.0
    assert limiter.try_acquire("1.1.1.1", 40)


def test_response_weight_can_go_negative_and_delays_next_request():
    clock = FakeClock()
    limiter = IpRateLimiter(60, monotonic=clock)
    limiter.charge("ip", 100)
    assert limiter.remaining("ip") == -40
    assert not limiter.try_acquire("ip", 1)
    clock.now = 41.0
    assert limiter.try_acquire("ip", 1)


def test_address_budget_allows_one_action_per_interval_once_spent():
    clock = FakeClock()
    budget = AddressBudget(refill_interval_s=10.0, monotonic=clock)
    limits = {"cumVlm": "0.0", "nRequestsUsed": 9_999, "nRequestsCap": 10_000}
    assert budget.refusal("u", limits, 1) is None
    spent = {**limits, "nRequestsUsed": 10_000}
    assert budget.refusal("u", spent, 1) is None
    refusal = budget.refusal("u", spent, 1)
    assert refusal == ("Too many cumulative requests sent (10001 > 10000) for cumulative volume traded $0.00. "
                       "Place taker orders to free up 1 request per USDC traded.")
    assert budget.refusal("u", spent, 1, is_cancel=True) is None
    clock.now = 10.0
    assert budget.refusal("u", spent, 1) is None
