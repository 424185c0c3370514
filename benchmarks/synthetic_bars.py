"""One-minute bars and hourly funding from the venue's synthetic market, for benchmarks on 1m data.

../shared/data holds only hourly recordings; the issue's engine comparison asks for 1-minute bars.
These come from the same seeded factor model that drives the venue's synthetic market
(`venue.market.factor_model`): ETH and SOL are cointegrated there. Each bar is four 15-second
steps (open, high, low, close of the fair value), prices rounded as the venue rounds them, and
each hour's funding rate is the venue's formula on the model's premium at the hour.
"""

from __future__ import annotations

from decimal import Decimal

from operators.order_rules import AssetRules
from pairflow.events import Candle, Funding
from sources.replay import HOUR_MS, Recording, bar_of, check_recording
from venue.engine.funding import hourly_rate
from venue.market.factor_model import FactorModel, FactorModelConfig
from venue.market.synthetic import default_groups
from venue.universe import default_universe

__all__ = ["synthetic_minutes"]

MINUTE_MS = 60_000


def synthetic_minutes(coins: list[str], days: int, seed: int = 7, start_ms: int = 1_727_740_800_000) -> Recording:
    """Return ``days`` of 1m bars and hourly funding for ``coins`` (checked like a recorded file)."""
    universe = default_universe().subset(coins)
    rules = AssetRules({spec.name: spec.sz_decimals for spec in universe.specs})
    config = FactorModelConfig(reference_px={listing.name: listing.reference_px for listing in universe.listings},
                               groups=default_groups(universe))
    model = FactorModel(config, seed=seed)
    bars: dict[str, list] = {coin: [] for coin in coins}
    funding: list[Funding] = []
    for minute in range(days * 24 * 60):
        ts = start_ms + minute * MINUTE_MS
        if ts % HOUR_MS == 0:
            funding += [Funding(ts=ts, recv_ts=ts, id=f"{coin}:{ts}", coin=coin,
                                rate=float(hourly_rate(Decimal(repr(model.premium(coin)))))) for coin in coins]
        path = [model.fair_values()] + [model.step(15_000) for _ in range(4)]
        for coin in coins:
            prices = [rules.price(coin, values[coin]) for values in path]
            bars[coin].append(bar_of(Candle(ts=ts, recv_ts=ts, id=f"{coin}:1m:{ts}", coin=coin, interval="1m",
                                            close_ts=ts + MINUTE_MS - 1, open=prices[0], high=max(prices),
                                            low=min(prices), close=prices[-1], volume=1.0, trades=4)))
    recording = Recording("1m", MINUTE_MS, bars, funding)
    recording.problems = check_recording(recording, coins)
    return recording
