"""TP/SL trigger orders: armed on the mark price, fired as market (10% slippage) or limit orders."""

from __future__ import annotations

from decimal import Decimal

from .rules import round_price

MARKET_SLIPPAGE = Decimal("0.1")


def fires(order, mark: int) -> bool:
    """Tell whether a trigger order's condition holds at ``mark``.

    A stop on a sell (or a take-profit on a buy) waits for the price to fall to the trigger; the other two
    wait for it to rise, which is what ``triggerCondition`` prints as "Price below/above X".
    """
    rises = order.is_buy == (order.tpsl == "sl")
    return mark >= order.trigger_px if rises else mark <= order.trigger_px


def market_price(mark: int, is_buy: bool, pxd: int) -> int:
    """Return the limit price of a market execution: mark +/-10% rounded outward to a valid tick."""
    mark_dec = Decimal(mark).scaleb(-pxd)
    target = mark_dec * (1 + MARKET_SLIPPAGE) if is_buy else mark_dec * (1 - MARKET_SLIPPAGE)
    return max(round_price(target, pxd, up=is_buy), 1)


def due_orders(armed: list, mark: int) -> list:
    """Return the armed orders whose condition holds, oldest first."""
    return [order for order in armed if fires(order, mark)]
