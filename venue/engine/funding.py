"""Hourly funding: premium sampling every 5 s, the documented 8-hour formula paid hourly at F/8."""

from __future__ import annotations

from decimal import Decimal

from .rules import MONEY_DECIMALS

SAMPLE_MS = 5_000
HOUR_MS = 3_600_000
INTEREST_8H = Decimal("0.0001")
CLAMP_8H = Decimal("0.0005")
HOURLY_CAP = Decimal("0.04")
RATE_QUANTUM = Decimal("1e-10")
MAJOR_IMPACT_NOTIONAL = 20_000
OTHER_IMPACT_NOTIONAL = 6_000


def impact_notional(coin: str) -> int:
    """Return the impact notional in USDC: 20 000 for BTC and ETH, 6 000 for the rest."""
    return MAJOR_IMPACT_NOTIONAL if coin in ("BTC", "ETH") else OTHER_IMPACT_NOTIONAL


def premium_of(impact_bid: Decimal | None, impact_ask: Decimal | None, oracle: Decimal) -> Decimal:
    """Return ``(max(impactBid - oracle, 0) - max(oracle - impactAsk, 0)) / oracle``; a missing side adds 0."""
    up = max(impact_bid - oracle, Decimal(0)) if impact_bid is not None else Decimal(0)
    down = max(oracle - impact_ask, Decimal(0)) if impact_ask is not None else Decimal(0)
    return (up - down) / oracle


def hourly_rate(average_premium: Decimal) -> Decimal:
    """Return the hourly rate ``F/8`` with ``F = P + clamp(I - P, -0.05%, +0.05%)``, capped at 4% an hour."""
    clamp = min(max(INTEREST_8H - average_premium, -CLAMP_8H), CLAMP_8H)
    rate = (average_premium + clamp) / 8
    rate = min(max(rate, -HOURLY_CAP), HOURLY_CAP)
    return rate.quantize(RATE_QUANTUM).normalize() if rate else Decimal(0)


def funding_paid(szi: int, sz_decimals: int, oracle: int, px_decimals: int, rate: Decimal) -> int:
    """Return what a position of ``szi`` lots pays for one hour at ``rate`` on the ``oracle`` (scaled integers),
    in micro-USDC rounded half-even; negative when it receives.

    One function for the engine's settlement and the vectorised backtest, which must charge the same cents.

    >>> funding_paid(-10_000, 4, 221_930, 2, Decimal("0.0000125"))
    -27741
    """
    notional = Decimal(szi).scaleb(-sz_decimals) * Decimal(oracle).scaleb(-px_decimals)
    return int((notional * rate).scaleb(MONEY_DECIMALS).quantize(Decimal(1)))


class FundingState:
    """Accumulate premium samples of one asset over the current hour."""

    __slots__ = ("premium_sum", "samples", "last_premium")

    def __init__(self) -> None:
        self.premium_sum = Decimal(0)
        self.samples = 0
        self.last_premium: Decimal | None = None

    def sample(self, premium: Decimal, count: int = 1) -> None:
        """Record ``count`` identical 5-second samples (the book did not change between them)."""
        self.premium_sum += premium * count
        self.samples += count
        self.last_premium = premium

    def average(self) -> Decimal:
        """Return the hour's average premium so far (0 without samples)."""
        return self.premium_sum / self.samples if self.samples else Decimal(0)

    def reset(self) -> None:
        """Start a new hour."""
        self.premium_sum = Decimal(0)
        self.samples = 0
