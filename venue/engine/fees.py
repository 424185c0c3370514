"""Fee models: the swappable FeeModel protocol and Hyperliquid's documented perp schedule."""

from __future__ import annotations

from typing import Protocol

RATE_SCALE_DECIMALS = 8
RATE_SCALE = 10**RATE_SCALE_DECIMALS
"""Fee rates are integers in units of 1e-8 (0.045% = 45_000)."""

PERP_TIERS = (
    (7_000_000_000, 24_000, 0),
    (2_000_000_000, 26_000, 0),
    (500_000_000, 28_000, 0),
    (100_000_000, 30_000, 4_000),
    (25_000_000, 35_000, 8_000),
    (5_000_000, 40_000, 12_000),
)
"""Documented perp VIP tiers: (14-day volume above, taker rate, maker rate), highest first."""
SPOT_TIERS = ((5_000_000, 60_000, 30_000), (25_000_000, 50_000, 20_000), (100_000_000, 40_000, 10_000),
               (500_000_000, 35_000, 0), (2_000_000_000, 30_000, 0), (7_000_000_000, 25_000, 0))
"""Documented spot VIP tiers, lowest first (shown in the fee schedule only: spot trading is not modelled)."""
MAKER_REBATES = (("0.005", "-0.00001"), ("0.015", "-0.00002"), ("0.03", "-0.00003"))
"""Documented market-maker rebates: (share of maker volume above, rate)."""


class FeeModel(Protocol):
    """Choose the taker and maker rates of a user (integers in units of ``RATE_SCALE``).

    ``rates(user, 0)`` is read as the schedule's base rates.
    """

    def rates(self, user: str, volume_14d_usd: int) -> tuple[int, int]:
        """Return ``(taker_rate, maker_rate)``; a negative maker rate is a rebate."""


class HyperliquidFees:
    """Apply the documented tier schedule: base taker 0.045% / maker 0.015%, lower by 14-day volume.

    Parameters
    ----------
    taker
        Base taker rate in units of ``RATE_SCALE``.
    maker
        Base maker rate in units of ``RATE_SCALE``.
    use_tiers
        Whether 14-day volume moves a user to the VIP tiers.
    """

    def __init__(self, taker: int = 45_000, maker: int = 15_000, use_tiers: bool = True) -> None:
        self.taker = taker
        self.maker = maker
        self.use_tiers = use_tiers

    def rates(self, user: str, volume_14d_usd: int) -> tuple[int, int]:
        """Return ``(taker, maker)`` for the user's 14-day volume in whole USDC."""
        if self.use_tiers:
            for cutoff, taker, maker in PERP_TIERS:
                if volume_14d_usd > cutoff:
                    return taker, maker
        return self.taker, self.maker


def fee_of(notional_micro: int, rate: int) -> int:
    """Return the fee in micro-USDC for a notional, truncated toward zero to 6 decimals.

    Truncation matches recorded fills: 0.4152 x 2215.4 x 0.00025 = 0.22995852 was charged 0.229958 and
    a -0.00025712 rebate was paid as -0.000257.
    """
    if rate >= 0:
        return notional_micro * rate // RATE_SCALE
    return -(notional_micro * -rate // RATE_SCALE)
