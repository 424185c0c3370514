"""Market-maker quote ladders and the funding-premium skew (pure functions).

Hyperliquid samples the premium as
``(max(impact_bid - oracle, 0) - max(oracle - impact_ask, 0)) / oracle`` and
publishes an hourly rate ``(P + clamp(I - P, -0.0005, 0.0005)) / 8`` with
``I = 0.0001`` (PROTOCOL.md §9.3). A maker that wants premium ``p`` therefore
centres its ladder at ``oracle * (1 + p ± w)``, where ``w`` is the ladder's
own impact half-width, and a replay that wants a recorded rate first inverts
the rate formula with `premium_for_funding_rate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from pairflow.market_defaults import BOOK_LEVELS, HALF_SPREAD_BPS, MAX_BOOK_LEVELS
from venue.market.bounds import bounded, check_bounds
from venue.market.ticks import MIN_NOTIONAL, min_size, round_price, round_size

__all__ = [
    "Quote",
    "QuoteConfig",
    "INTEREST_8H",
    "PREMIUM_CLAMP",
    "build_ladder",
    "center_for_premium",
    "funding_rate_for_premium",
    "grid_position",
    "impact_half_width",
    "level_size",
    "premium_for_funding_rate",
]

INTEREST_8H = 0.0001
PREMIUM_CLAMP = 0.0005
_HOURLY_CAP = 0.04


@dataclass(frozen=True)
class QuoteConfig:
    """Shape of a maker's ladder.

    Parameters
    ----------
    levels
        Price levels per side.
    half_spread_bps
        Least distance of the best bid/ask from the centre, in basis points.
    level_step_bps
        Spacing of the price grid the levels sit on, in basis points.
    level_notional
        USD notional of the best level; deeper levels grow by `size_growth` per level.
    size_growth
        Relative size increase per level away from the top.
    """

    levels: int = bounded(BOOK_LEVELS, ge=1, le=MAX_BOOK_LEVELS)
    half_spread_bps: float = bounded(HALF_SPREAD_BPS, gt=0)
    level_step_bps: float = bounded(3.0, gt=0)
    level_notional: float = bounded(4000.0, ge=MIN_NOTIONAL)
    size_growth: float = bounded(0.5, ge=0)

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass(frozen=True)
class Quote:
    """One resting maker order: side, valid price and valid size."""

    is_buy: bool
    px: Decimal
    sz: Decimal


def build_ladder(center: float, sz_decimals: int, config: QuoteConfig) -> list[Quote]:
    """Return bids (best first) then asks (best first) around `center`, all tick/lot valid.

    Levels sit on a fixed geometric price grid ``(1 + step) ** k`` rather than
    at offsets from the centre, so a small move of the centre keeps most
    levels where they are: a maker only replaces the levels the move
    crossed, and resting orders keep their queue position as on a real book.
    Bids round down and asks round up to the tick, every level carries at
    least the $10 minimum, and levels collapsing onto one tick are merged.
    """
    top_bid, top_ask = grid_position(center, config)
    log_step = math.log1p(config.level_step_bps / 10_000.0)
    quotes: list[Quote] = []
    for is_buy, top, direction in ((True, top_bid, -1), (False, top_ask, 1)):
        previous: Decimal | None = None
        rank = 0
        for offset in range(config.levels):
            grid_px = math.exp((top + direction * offset) * log_step)
            px = round_price(grid_px, sz_decimals, up=not is_buy)
            if px == previous or px <= 0:
                continue
            previous = px
            quotes.append(Quote(is_buy, px, level_size(float(px), sz_decimals, rank, config)))
            rank += 1
    return quotes


def grid_position(center: float, config: QuoteConfig) -> tuple[int, int]:
    """Return the grid indices of the best bid and best ask for `center`; equal indices mean equal ladders."""
    if center <= 0:
        raise ValueError(f"centre price must be positive, was {center}")
    log_step = math.log1p(config.level_step_bps / 10_000.0)
    half_spread = config.half_spread_bps / 10_000.0
    top_bid = math.floor(math.log(center * (1.0 - half_spread)) / log_step)
    top_ask = math.ceil(math.log(center * (1.0 + half_spread)) / log_step)
    return top_bid, top_ask


def level_size(px: float, sz_decimals: int, rank: int, config: QuoteConfig) -> Decimal:
    """Return the lot-valid size of the level `rank` steps from the top (0 = best), at least $10."""
    notional = config.level_notional * (1.0 + config.size_growth * rank)
    return max(round_size(notional / px, sz_decimals), min_size(px, sz_decimals))


def impact_half_width(quotes: list[Quote], center: float, notional: float) -> float:
    """Return the relative distance from `center` of the impact prices of `quotes` for `notional`.

    The impact price is the average fill price of a market order of
    `notional` USD on each side; the result averages both sides. A side too
    thin to fill the notional uses its deepest level.
    """
    widths = []
    for is_buy in (True, False):
        side = [quote for quote in quotes if quote.is_buy == is_buy]
        if not side:
            continue
        remaining, cost, filled = notional, 0.0, 0.0
        for quote in side:
            px, sz = float(quote.px), float(quote.sz)
            take = min(sz, remaining / px)
            cost += take * px
            filled += take
            remaining -= take * px
            if remaining <= 1e-9:
                break
        average = cost / filled if filled else float(side[-1].px)
        widths.append(abs(average - center) / center)
    return sum(widths) / len(widths) if widths else 0.0


def center_for_premium(oracle: float, premium: float, half_width: float) -> float:
    """Return the ladder centre that makes the sampled premium about `premium`."""
    if premium > 0:
        return oracle * (1.0 + premium + half_width)
    if premium < 0:
        return oracle * (1.0 + premium - half_width)
    return oracle


def funding_rate_for_premium(premium: float) -> float:
    """Return the hourly funding rate the venue publishes for an average 8-hour premium."""
    clamped = min(max(INTEREST_8H - premium, -PREMIUM_CLAMP), PREMIUM_CLAMP)
    rate = (premium + clamped) / 8.0
    return min(max(rate, -_HOURLY_CAP), _HOURLY_CAP)


def premium_for_funding_rate(hourly_rate: float) -> float:
    """Return an average premium whose hourly funding rate is `hourly_rate` (inverse of the above).

    Rates equal to the interest-only rate (0.0000125) need no premium; above it
    the premium sits ``PREMIUM_CLAMP`` beyond ``8 * rate``, below it likewise.
    """
    eight_hour = 8.0 * min(max(hourly_rate, -_HOURLY_CAP), _HOURLY_CAP)
    if abs(eight_hour - INTEREST_8H) < 1e-12:
        return 0.0
    if eight_hour > INTEREST_8H:
        return eight_hour + PREMIUM_CLAMP
    return eight_hour - PREMIUM_CLAMP
