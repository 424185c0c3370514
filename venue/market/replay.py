"""Replay driver: recorded candles and funding set the oracle; makers and takers trade around it.

The recording is shifted by a whole number of hours so that its first candle
opens at the venue's start hour: candles, funding settlements and hour
boundaries line up with the recorded ones while the venue clock stays near
wall time. The book, trades and funding are then produced live by the
venue's own makers and takers from the recorded prices; a recorded funding
rate becomes the premium target the makers skew their quotes to.
"""

from __future__ import annotations

from dataclasses import dataclass

from venue.market.driver import QuotedMarket
from venue.market.participants import MarketMaker, PoissonTakers, TakerConfig
from venue.market.quoting import QuoteConfig, premium_for_funding_rate
from venue.market.recorded import HOUR_MS, RecordedMarketData
from venue.universe import Universe

__all__ = ["ReplayMarket", "replay_universe"]


def replay_universe(universe: Universe, data: RecordedMarketData) -> Universe:
    """Return the listings of `universe` that have recorded candles, in universe order."""
    coins = [name for name in universe.names if name in data.candles]
    if not coins:
        raise ValueError(
            f"the recording has no coin of the venue universe (recorded: {', '.join(data.coins)})"
        )
    return universe.subset(coins)


@dataclass(kw_only=True)
class ReplayMarket(QuotedMarket):
    """Drive the venue from a `RecordedMarketData`; build it with `ReplayMarket.build`.

    Attributes
    ----------
    offset_ms
        Venue time minus recorded time (a whole number of hours).
    """

    data: RecordedMarketData
    offset_ms: int

    @classmethod
    def build(
        cls,
        universe: Universe,
        data: RecordedMarketData,
        *,
        start_ms: int,
        seed: int = 0,
        quote: QuoteConfig | None = None,
        takers: TakerConfig | None = None,
    ) -> ReplayMarket:
        """Create a replay whose first recorded hour starts at the hour containing `start_ms`."""
        offset = (start_ms - start_ms % HOUR_MS) - data.start_ms
        return cls(
            universe=replay_universe(universe, data),
            maker=MarketMaker(quote=quote or QuoteConfig()),
            takers=PoissonTakers(config=takers or TakerConfig(), seed=seed),
            data=data,
            offset_ms=offset,
        )

    def recorded_ms(self, now_ms: int) -> int:
        """Return the recorded time replayed at venue time `now_ms`."""
        return now_ms - self.offset_ms

    @property
    def finished_at_ms(self) -> int:
        """Return the venue time after which prices stop moving (end of the recording)."""
        return self.data.end_ms + self.offset_ms

    def targets(self, now_ms: int, dt_ms: int) -> dict[str, tuple[float, float]]:
        """Return the recorded price path and the premium implied by the hour's recorded funding."""
        recorded = self.recorded_ms(now_ms)
        targets = {}
        for coin in self.universe.names:
            px = self.data.price_at(coin, recorded)
            if px is None:
                continue
            rate = self.data.funding_rate_for_hour(coin, recorded)
            targets[coin] = (px, 0.0 if rate is None else premium_for_funding_rate(rate))
        return targets
