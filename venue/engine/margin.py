"""Margin arithmetic of PROTOCOL §2.1/§9.5: summaries, per-position figures, liquidation price.

All inputs are integers: sizes in the asset's size units, marks in its price units, money in micro-USDC
(``size * price`` is already micro-USDC).
"""

from __future__ import annotations

from decimal import Decimal

from .rules import MONEY_DECIMALS, dec, rounded
from .views import AccountState, CumulativeFunding, Leverage, MarginSummary, PositionState

_MICRO = Decimal(10) ** -MONEY_DECIMALS


class Figures:
    """Cross and total account figures in micro-USDC."""

    __slots__ = ("cross_value", "cross_raw", "cross_ntl", "cross_margin", "cross_maintenance", "total_value",
                 "total_raw", "total_ntl", "total_margin")

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)


def maintenance(notional: int, max_leverage: int) -> int:
    """Return the maintenance margin ``notional / (2 * maxLeverage)`` (micro-USDC, truncated)."""
    return notional // (2 * max_leverage)


def figures(account, specs, mark_of) -> Figures:
    """Compute the account's cross and total summaries at current marks."""
    out = Figures()
    cross_value = account.cash
    cross_raw = account.cash
    total_value = 0
    total_raw = 0
    for asset, position in account.positions.items():
        mark = mark_of(asset)
        spec = specs[asset]
        is_cross, leverage = account.settings[asset]
        value = position.szi * mark
        notional = abs(value)
        upnl = value - position.basis
        out.total_ntl += notional
        if is_cross:
            cross_value += upnl
            cross_raw -= position.basis
            out.cross_ntl += notional
            out.cross_margin += notional // leverage
            out.cross_maintenance += maintenance(notional, spec.max_leverage)
        else:
            total_value += position.iso_margin + upnl
            total_raw += position.iso_margin - position.basis
            out.total_margin += position.iso_margin + upnl
    out.cross_value = cross_value
    out.cross_raw = cross_raw
    out.total_value = cross_value + total_value
    out.total_raw = cross_raw + total_raw
    out.total_margin += out.cross_margin
    return out


def free_collateral(account, marks: list) -> int:
    """Return ``available(account, figures(...))`` without building the summaries (order hot path).

    ``marks`` holds the current mark of every held asset (None counts as 0).
    """
    value = account.cash - account.reserved
    settings = account.settings
    for asset, position in account.positions.items():
        is_cross, leverage = settings[asset]
        if is_cross:
            exposure = position.szi * (marks[asset] or 0)
            value += exposure - position.basis - (exposure if exposure > 0 else -exposure) // leverage
    return value


def available(account, fig: Figures) -> int:
    """Return the cross equity free for new orders: value - margin used - margin held by resting orders."""
    return fig.cross_value - fig.cross_margin - account.reserved


def withdrawable(account, fig: Figures) -> int:
    """Return what may leave the perp account: value - max(initial margin, 10% of cross notional) - orders."""
    return max(0, fig.cross_value - max(fig.cross_margin, fig.cross_ntl // 10) - account.reserved)


def liquidation_px(mark: Decimal, szi: Decimal, margin_available: Decimal, max_leverage: int) -> Decimal | None:
    """Return ``mark - side * available / |szi| / (1 - l * side)`` with ``l = 1/(2*maxLeverage)``, or None."""
    side = 1 if szi > 0 else -1
    rate = Decimal(1) / (2 * max_leverage)
    liq = mark - side * margin_available / abs(szi) / (1 - rate * side)
    return liq if liq > 0 else None


def position_state(account, asset: int, spec, mark: int, fig: Figures) -> PositionState:
    """Return one open position at ``mark``."""
    position = account.positions[asset]
    is_cross, leverage = account.settings[asset]
    pxd = 6 - spec.sz_decimals
    szd = spec.sz_decimals
    value = position.szi * mark
    notional = abs(value)
    upnl = value - position.basis
    szi_dec = Decimal(position.szi).scaleb(-szd)
    mark_dec = Decimal(mark).scaleb(-pxd)
    entry = Decimal(position.basis).scaleb(-MONEY_DECIMALS) / szi_dec
    roe = Decimal(upnl * leverage) / abs(position.basis) if position.basis else Decimal(0)
    mm = maintenance(notional, spec.max_leverage)
    if is_cross:
        margin_used = notional // leverage
        mode = Leverage(True, leverage)
        margin_available = fig.cross_value - fig.cross_maintenance
    else:
        margin_used = position.iso_margin + upnl
        mode = Leverage(False, leverage, dec(position.iso_margin - position.basis, MONEY_DECIMALS))
        margin_available = margin_used - mm
    liq = liquidation_px(mark_dec, szi_dec, Decimal(margin_available) * _MICRO, spec.max_leverage)
    return PositionState(
        spec.name, dec(position.szi, szd), mode, rounded(entry, max(pxd, 1) + 2), dec(notional, MONEY_DECIMALS),
        dec(upnl, MONEY_DECIMALS), rounded(roe, 10), None if liq is None else rounded(liq, 8),
        dec(margin_used, MONEY_DECIMALS), spec.max_leverage,
        CumulativeFunding(dec(position.cum_all, MONEY_DECIMALS), dec(position.cum_open, MONEY_DECIMALS),
                          dec(position.cum_change, MONEY_DECIMALS)))


def account_state(account, specs, mark_of, now_ms: int) -> AccountState:
    """Return the account's summaries and positions at current marks."""
    fig = figures(account, specs, mark_of)

    def summary(value: int, ntl: int, raw: int, used: int) -> MarginSummary:
        return MarginSummary(dec(value, MONEY_DECIMALS), dec(ntl, MONEY_DECIMALS), dec(raw, MONEY_DECIMALS),
                             dec(used, MONEY_DECIMALS))

    positions = [position_state(account, asset, specs[asset], mark_of(asset), fig)
                 for asset in sorted(account.positions)]
    return AccountState(
        summary(fig.total_value, fig.total_ntl, fig.total_raw, fig.total_margin),
        summary(fig.cross_value, fig.cross_ntl, fig.cross_raw, fig.cross_margin),
        dec(fig.cross_maintenance, MONEY_DECIMALS), dec(withdrawable(account, fig), MONEY_DECIMALS), positions, now_ms)
