"""The risk limits and the router's configuration are the [execution] settings, defaults included."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from operators.risk_checks import RiskLimits
from pairflow.config import ExecutionSettings
from sinks.execution import RouterConfig

amounts = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)
durations = st.integers(min_value=0, max_value=10**10)


def test_unset_limits_and_router_fields_are_the_settings_defaults() -> None:
    assert RiskLimits.from_settings(ExecutionSettings()) == RiskLimits()
    assert RouterConfig.from_settings(ExecutionSettings()) == RouterConfig()


@given(order_notional=amounts, leverage=amounts, stale_ms=durations, stop_loss=amounts, time_stop_ms=durations,
       order_type=st.sampled_from(["ioc", "limit", "post_only", "auto"]), maker_edge_bps=amounts,
       slippage_bps=amounts, leg_timeout_s=st.floats(min_value=0.001, max_value=1e6), dead_man_s=amounts)
def test_every_setting_reaches_the_struct_that_uses_it(
    order_notional: float, leverage: float, stale_ms: int, stop_loss: float, time_stop_ms: int, order_type: str,
    maker_edge_bps: float, slippage_bps: float, leg_timeout_s: float, dead_man_s: float,
) -> None:
    execution = ExecutionSettings(
        max_order_notional=order_notional, max_leverage=leverage, stale_ms=stale_ms, spread_stop_loss=stop_loss,
        time_stop_ms=time_stop_ms, order_type=order_type, maker_edge_bps=maker_edge_bps, slippage_bps=slippage_bps,
        leg_timeout_s=leg_timeout_s, dead_man_s=dead_man_s,
    )
    limits, config = RiskLimits.from_settings(execution), RouterConfig.from_settings(execution)
    assert {name: getattr(limits, name) for name in RiskLimits.__struct_fields__} == execution.model_dump(
        include=set(RiskLimits.__struct_fields__)
    )
    assert (config.order_type, config.maker_edge_bps, config.slippage_bps, config.leg_timeout_s,
            config.dead_man_s) == (order_type, maker_edge_bps, slippage_bps, leg_timeout_s, dead_man_s)
