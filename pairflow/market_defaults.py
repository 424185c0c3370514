"""Defaults of the local venue's synthetic market, stated once.

Two places need them: the ``[venue]`` settings a venue is built from
(`pairflow.config.VenueSettings`) and the market library itself
(`venue.market`: its configs' defaults, used by tests, benchmarks and any
caller that builds a market without settings). The layout rule lets
``venue`` import ``pairflow`` but not the other way round, so the numbers live
here and both read them: a venue started from settings and a market built
with the library's defaults are the same market.
"""

from __future__ import annotations

__all__ = [
    "BOOK_LEVELS", "GROUP_HALF_LIFE_S", "GROUP_SPREAD_STD", "HALF_SPREAD_BPS", "IDIO_VOL", "MARKET_VOL",
    "MAX_BOOK_LEVELS", "TAKER_MEDIAN_NOTIONAL", "TAKER_RATE_PER_MINUTE",
]

GROUP_HALF_LIFE_S = 1800.0
"""Half-life of each cointegration group member's OU spread, in simulated seconds."""
GROUP_SPREAD_STD = 0.004
"""Stationary standard deviation of each member's spread, in log-price units."""
MARKET_VOL = 0.005
"""Volatility of the market factor every coin loads on, per sqrt(hour)."""
IDIO_VOL = 0.007
"""Volatility of each coin outside a group's own random walk, per sqrt(hour)."""
TAKER_RATE_PER_MINUTE = 12.0
"""Mean taker orders per coin per simulated minute (Poisson arrivals)."""
TAKER_MEDIAN_NOTIONAL = 1500.0
"""Median USD notional of a taker order."""
BOOK_LEVELS = 6
"""Maker price levels per side of each book."""
MAX_BOOK_LEVELS = 50
"""Most maker price levels per side a book may be configured with."""
HALF_SPREAD_BPS = 1.5
"""Least distance of the makers' best quotes from fair value, in basis points."""
