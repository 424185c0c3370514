"""Inline risk: each check is a pure function returning a reason, or ``""`` when the order may go.

The reason starts with the check's name (``max_order_notional: ...``) so it
can be logged, stored on the rejected order and counted per check. Pre-trade
checks see one order and the book it would change; in-position checks see a
spread's PnL and age, and the day's PnL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import msgspec

from operators.order_rules import MIN_NOTIONAL, AssetRules, UnknownCoinError
from operators.state import Record
from pairflow.config import ExecutionSettings

__all__ = ["CHECKS", "LIMIT_SETTINGS", "OrderCheck", "PreTrade", "RiskLimits", "in_position", "pre_trade"]

LIMIT_SETTINGS = (
    "max_order_notional", "max_coin_notional", "max_gross_notional", "max_net_notional", "max_leverage",
    "price_band", "stale_ms", "max_orders_per_minute", "max_funding_cost", "spread_stop_loss", "time_stop_ms",
    "daily_drawdown",
)
"""The ``[execution]`` settings that are risk limits; each becomes a field of `RiskLimits`."""


def _limits_from_settings(cls: type[RiskLimits], execution: ExecutionSettings) -> RiskLimits:
    return cls(**{name: getattr(execution, name) for name in LIMIT_SETTINGS})


_DEFAULTS = ExecutionSettings()
# The struct is built from the settings' own fields (type and default), so the checks and the
# configuration cannot disagree on a limit's unit or on what an unset limit is.
RiskLimits = msgspec.defstruct(
    "RiskLimits",
    [(name, ExecutionSettings.model_fields[name].annotation, getattr(_DEFAULTS, name)) for name in LIMIT_SETTINGS],
    namespace={
        "__doc__": "Limits in USDC, fractions, milliseconds and orders per minute (zero disables a check); "
        "``RiskLimits.from_settings(execution)`` takes them from the ``[execution]`` settings.",
        "from_settings": classmethod(_limits_from_settings),
    },
    module=__name__,
    frozen=True,
)


class OrderCheck(Record):
    """One order as the checks see it: signed size, limit price and whether it only reduces."""

    coin: str
    sz: float
    px: float
    reduce_only: bool = False


class PreTrade(Record):
    """What the checks need besides the order: positions, marks, equity, data age, recent orders, funding."""

    now_ms: int
    positions: Mapping[str, float]
    marks: Mapping[str, float]
    equity: float
    last_data_ms: Mapping[str, int]
    recent_orders_ms: Sequence[int] = ()
    funding_rates: Mapping[str, float] = {}
    holding_hours: float = 8.0


def _after(order: OrderCheck, ctx: PreTrade) -> dict[str, float]:
    positions = dict(ctx.positions)
    positions[order.coin] = positions.get(order.coin, 0.0) + order.sz
    return {coin: size * ctx.marks.get(coin, order.px) for coin, size in positions.items()}


def _grows(order: OrderCheck, ctx: PreTrade) -> bool:
    before = ctx.positions.get(order.coin, 0.0)
    return abs(before + order.sz) > abs(before) + 1e-12


def check_rounding(order: OrderCheck, ctx: PreTrade, limits: RiskLimits, rules: AssetRules) -> str:
    """Refuse a size or price off the exchange grid, or a size that rounds to zero."""
    try:
        size, price = rules.size(order.coin, order.sz), rules.price(order.coin, order.px)
    except UnknownCoinError as error:
        return f"rounding: {error}"
    if size == 0:
        return f"rounding: size {abs(order.sz)!r} of {order.coin} rounds to zero"
    if size != abs(order.sz) or price != order.px:
        return f"rounding: {abs(order.sz)!r} @ {order.px!r} is off the {order.coin} grid"
    return ""


def check_min_notional(order: OrderCheck, ctx: PreTrade, limits: RiskLimits, rules: AssetRules) -> str:
    """Refuse an order worth less than the exchange's $10 minimum (a reduce-only close is exempt)."""
    value = abs(order.sz) * order.px
    if value < MIN_NOTIONAL and not order.reduce_only:
        return f"min_notional: {value:.2f} USDC is under the {MIN_NOTIONAL:.0f} USDC minimum"
    return ""


def check_order_notional(order: OrderCheck, ctx: PreTrade, limits: RiskLimits, rules: AssetRules) -> str:
    """Refuse one order larger than the per-order notional limit."""
    value = abs(order.sz) * order.px
    if limits.max_order_notional and value > limits.max_order_notional:
        return f"max_order_notional: {value:.2f} USDC exceeds {limits.max_order_notional:.2f}"
    return ""


def check_coin_exposure(order: OrderCheck, ctx: PreTrade, limits: RiskLimits, rules: AssetRules) -> str:
    """Refuse growing a coin's position beyond the per-coin notional limit."""
    value = abs(_after(order, ctx)[order.coin])
    if limits.max_coin_notional and value > limits.max_coin_notional and _grows(order, ctx):
        return f"coin_exposure: {order.coin} would be {value:.2f} USDC, limit {limits.max_coin_notional:.2f}"
    return ""


def check_gross_net(order: OrderCheck, ctx: PreTrade, limits: RiskLimits, rules: AssetRules) -> str:
    """Refuse growing gross (sum of |notional|) or net (signed sum) exposure beyond its limit."""
    after = _after(order, ctx)
    gross, net = sum(abs(v) for v in after.values()), sum(after.values())
    if limits.max_gross_notional and gross > limits.max_gross_notional and _grows(order, ctx):
        return f"gross_exposure: {gross:.2f} USDC exceeds {limits.max_gross_notional:.2f}"
    if limits.max_net_notional and abs(net) > limits.max_net_notional and _grows(order, ctx):
        return f"net_exposure: {net:.2f} USDC exceeds ±{limits.max_net_notional:.2f}"
    return ""


def check_leverage(order: OrderCheck, ctx: PreTrade, limits: RiskLimits, rules: AssetRules) -> str:
    """Refuse growing gross exposure beyond ``max_leverage`` times equity."""
    gross = sum(abs(v) for v in _after(order, ctx).values())
    if ctx.equity <= 0 and _grows(order, ctx):
        return f"leverage: equity is {ctx.equity:.2f} USDC"
    leverage = gross / ctx.equity if ctx.equity > 0 else 0.0
    if limits.max_leverage and leverage > limits.max_leverage and _grows(order, ctx):
        return f"leverage: {leverage:.2f}x exceeds {limits.max_leverage:.2f}x"
    return ""


def check_price_band(order: OrderCheck, ctx: PreTrade, limits: RiskLimits, rules: AssetRules) -> str:
    """Refuse a limit price further than ``price_band`` from the mark (a fat finger, or a bad mark)."""
    mark = ctx.marks.get(order.coin)
    if mark is None:
        return f"price_band: no mark price for {order.coin}"
    away = abs(order.px / mark - 1.0)
    if limits.price_band and away > limits.price_band:
        return f"price_band: {order.px!r} is {away:.2%} from mark {mark!r}, band {limits.price_band:.2%}"
    return ""


def check_stale_data(order: OrderCheck, ctx: PreTrade, limits: RiskLimits, rules: AssetRules) -> str:
    """Refuse trading a coin whose market data is older than ``stale_ms``."""
    seen = ctx.last_data_ms.get(order.coin)
    age = None if seen is None else ctx.now_ms - seen
    if limits.stale_ms and (age is None or age > limits.stale_ms) and not order.reduce_only:
        return f"stale_data: {order.coin} data is {'missing' if age is None else f'{age} ms old'}"
    return ""


def check_order_rate(order: OrderCheck, ctx: PreTrade, limits: RiskLimits, rules: AssetRules) -> str:
    """Refuse more than ``max_orders_per_minute`` orders in the last 60 s."""
    if not limits.max_orders_per_minute:
        return ""
    recent = sum(1 for ts in ctx.recent_orders_ms if ctx.now_ms - ts < 60_000)
    if recent >= limits.max_orders_per_minute:
        return f"order_rate: {recent} orders in the last minute, limit {limits.max_orders_per_minute}"
    return ""


def check_funding_cost(order: OrderCheck, ctx: PreTrade, limits: RiskLimits, rules: AssetRules) -> str:
    """Refuse opening into funding that would cost more than ``max_funding_cost`` of notional over the hold."""
    rate = ctx.funding_rates.get(order.coin, 0.0)
    cost = rate * ctx.holding_hours * (1.0 if order.sz > 0 else -1.0)
    if limits.max_funding_cost and cost > limits.max_funding_cost and _grows(order, ctx):
        return f"funding_cost: {cost:.4%} over {ctx.holding_hours:g} h exceeds {limits.max_funding_cost:.4%}"
    return ""


CHECKS: tuple[Callable[[OrderCheck, PreTrade, RiskLimits, AssetRules], str], ...] = (
    check_rounding, check_min_notional, check_order_notional, check_coin_exposure, check_gross_net,
    check_leverage, check_price_band, check_stale_data, check_order_rate, check_funding_cost,
)


def pre_trade(order: OrderCheck, ctx: PreTrade, limits: RiskLimits, rules: AssetRules) -> str:
    """Run every pre-trade check; return the first reason, or ``""`` when the order may go.

    Examples
    --------
    >>> rules, limits = AssetRules({"ETH": 4}), RiskLimits()
    >>> ctx = PreTrade(now_ms=10_000, positions={}, marks={"ETH": 2000.0}, equity=10_000.0, last_data_ms={"ETH": 9_000})
    >>> pre_trade(OrderCheck("ETH", 1.0, 2001.0), ctx, limits, rules)
    ''
    >>> pre_trade(OrderCheck("ETH", 1.0, 2300.0), ctx, limits, rules)
    'price_band: 2300.0 is 15.00% from mark 2000.0, band 5.00%'
    """
    for check in CHECKS:
        reason = check(order, ctx, limits, rules)
        if reason:
            return reason
    return ""


def in_position(spread_pnl: float, opened_ms: int, now_ms: int, day_pnl: float, limits: RiskLimits) -> str:
    """Return why an open spread must be closed now (stop-loss, time stop, daily drawdown), or ``""``.

    Examples
    --------
    >>> limits = RiskLimits(spread_stop_loss=100.0, time_stop_ms=3_600_000, daily_drawdown=300.0)
    >>> in_position(-50.0, 0, 60_000, -10.0, limits), in_position(-120.0, 0, 60_000, -10.0, limits)[:15]
    ('', 'spread_stop_los')
    >>> in_position(5.0, 0, 3_600_001, 0.0, limits)[:9], in_position(5.0, 0, 1, -301.0, limits)[:14]
    ('time_stop', 'daily_drawdown')
    """
    if limits.daily_drawdown and day_pnl <= -limits.daily_drawdown:
        return f"daily_drawdown: day PnL {day_pnl:.2f} USDC reached -{limits.daily_drawdown:.2f}; trading halted"
    if limits.spread_stop_loss and spread_pnl <= -limits.spread_stop_loss:
        return f"spread_stop_loss: spread PnL {spread_pnl:.2f} USDC reached -{limits.spread_stop_loss:.2f}"
    if limits.time_stop_ms and now_ms - opened_ms > limits.time_stop_ms:
        return f"time_stop: open {now_ms - opened_ms} ms, limit {limits.time_stop_ms} ms"
    return ""
