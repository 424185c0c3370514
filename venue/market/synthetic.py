"""Synthetic market driver: factor-model fair values with cointegrated groups, makers and takers."""

from __future__ import annotations

from dataclasses import dataclass

from pairflow.market_defaults import GROUP_HALF_LIFE_S, GROUP_SPREAD_STD, IDIO_VOL, MARKET_VOL
from venue.market.driver import QuotedMarket
from venue.market.factor_model import CointegrationGroup, FactorModel, FactorModelConfig
from venue.market.participants import MarketMaker, PoissonTakers, TakerConfig
from venue.market.quoting import QuoteConfig
from venue.universe import Universe

__all__ = ["DEFAULT_GROUPS", "SyntheticMarket", "default_groups"]

# Two economically plausible clusters of the default universe: large smart-contract L1s and
# DeFi blue chips. Betas are fixed loadings on the group factor; the remaining 12 coins walk
# on their own (correlated through the market factor, never cointegrated).
DEFAULT_GROUPS: tuple[tuple[tuple[str, ...], tuple[float, ...]], ...] = (
    (("ETH", "SOL", "AVAX"), (1.0, 1.3, 1.5)),
    (("AAVE", "UNI", "LINK"), (1.0, 1.2, 0.9)),
)


def default_groups(universe: Universe, half_life_s: float = GROUP_HALF_LIFE_S,
                   spread_std: float = GROUP_SPREAD_STD) -> tuple[CointegrationGroup, ...]:
    """Return the default cointegration groups restricted to coins present in `universe`."""
    groups = []
    for coins, betas in DEFAULT_GROUPS:
        kept = [(coin, beta) for coin, beta in zip(coins, betas) if coin in universe.names]
        if len(kept) >= 2:
            groups.append(
                CointegrationGroup(
                    tuple(coin for coin, _ in kept),
                    tuple(beta for _, beta in kept),
                    half_life_s=half_life_s,
                    spread_std=spread_std,
                )
            )
    return tuple(groups)


@dataclass(kw_only=True)
class SyntheticMarket(QuotedMarket):
    """Drive the venue from a seeded `FactorModel`; the same seed and steps give the same trades.

    Build it with `SyntheticMarket.build`.
    """

    model: FactorModel

    @classmethod
    def build(
        cls,
        universe: Universe,
        *,
        seed: int = 0,
        groups: tuple[CointegrationGroup, ...] | None = None,
        market_vol: float = MARKET_VOL,
        idio_vol: float = IDIO_VOL,
        premium_std: float = 0.0006,
        premium_half_life_s: float = 7200.0,
        quote: QuoteConfig | None = None,
        takers: TakerConfig | None = None,
    ) -> SyntheticMarket:
        """Create a synthetic market over `universe` (default groups when `groups` is None)."""
        config = FactorModelConfig(
            reference_px={listing.name: listing.reference_px for listing in universe.listings},
            groups=default_groups(universe) if groups is None else groups,
            market_vol=market_vol,
            idio_vol=idio_vol,
            premium_std=premium_std,
            premium_half_life_s=premium_half_life_s,
        )
        return cls(
            universe=universe,
            maker=MarketMaker(quote=quote or QuoteConfig()),
            takers=PoissonTakers(config=takers or TakerConfig(), seed=seed),
            model=FactorModel(config, seed=seed),
        )

    def targets(self, now_ms: int, dt_ms: int) -> dict[str, tuple[float, float]]:
        """Step the factor model by `dt_ms` and return fair values with premium targets."""
        fair = self.model.step(dt_ms)
        return {coin: (px, self.model.premium(coin)) for coin, px in fair.items()}
