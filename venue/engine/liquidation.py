"""Liquidation checks: cross when accountValue < crossMaintenanceMarginUsed, isolated per position."""

from __future__ import annotations

from .margin import figures, maintenance

LIQUIDATOR = "0x" + "ff" * 20
"""Backstop vault that takes over whatever the book cannot absorb."""


def accounts_to_liquidate(state) -> list[tuple[object, list[int]]]:
    """Return ``(account, assets)`` pairs whose margin is below maintenance, in address order."""
    out = []
    for address in sorted(state.accounts):
        account = state.accounts[address]
        if not account.positions or address == LIQUIDATOR:
            continue
        fig = figures(account, state.specs, state.mark_or_zero)
        assets = []
        has_cross = any(account.settings[a][0] for a in account.positions)
        if has_cross and fig.cross_value < fig.cross_maintenance:
            assets.extend(a for a in account.positions if account.settings[a][0])
        for asset, position in account.positions.items():
            if account.settings[asset][0]:
                continue
            value = position.szi * state.mark_or_zero(asset)
            equity = position.iso_margin + value - position.basis
            if equity < maintenance(abs(value), state.specs[asset].max_leverage):
                assets.append(asset)
        if assets:
            out.append((account, sorted(assets)))
    return out
