"""Fair-value processes of the synthetic market: random walks, OU spreads and a factor model.

Log fair value of coin ``i`` in cointegration group ``g``::

    log p_i(t) = log p_i(0) + beta_i * F_g(t) + S_i(t)
    F_g(t)     = market_beta * M(t) + G_g(t)       (M, G_g: independent random walks)
    S_i(t)     = Ornstein-Uhlenbeck, mean 0, half-life h_g, stationary std s_g

so ``log p_i - (beta_i / beta_j) log p_j`` is stationary with half-life ``h_g``
for any two members (a real cointegrated pair). A coin outside every group
follows ``log p_k(0) + market_beta * M(t) + W_k(t)``: correlated with the
others through ``M`` but not cointegrated with anything (a spurious pair).

Everything here is pure and picklable; randomness comes from one seeded
``numpy.random.Generator`` that draws a fixed-size vector per step, so a seed
and a sequence of step lengths fix the whole path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pairflow.market_defaults import GROUP_HALF_LIFE_S, GROUP_SPREAD_STD, IDIO_VOL, MARKET_VOL
from venue.market.bounds import bounded, check_bounds

__all__ = [
    "CointegrationGroup",
    "FactorModel",
    "FactorModelConfig",
    "ou_step",
    "random_walk_step",
]

_SECONDS_PER_HOUR = 3600.0


def ou_step(value: float, dt_s: float, half_life_s: float, stationary_std: float, shock: float) -> float:
    """Advance an Ornstein-Uhlenbeck process (mean 0) exactly by `dt_s` seconds.

    Uses the exact transition ``x' = x e^{-θ dt} + s sqrt(1 - e^{-2θ dt}) z`` with
    ``θ = ln 2 / half_life``, so the half-life holds for any step length.
    """
    decay = math.exp(-math.log(2.0) * dt_s / half_life_s)
    return value * decay + stationary_std * math.sqrt(max(0.0, 1.0 - decay * decay)) * shock


def random_walk_step(value: float, dt_s: float, vol_per_sqrt_hour: float, shock: float) -> float:
    """Advance a driftless Brownian motion by `dt_s` seconds."""
    return value + vol_per_sqrt_hour * math.sqrt(dt_s / _SECONDS_PER_HOUR) * shock


@dataclass(frozen=True)
class CointegrationGroup:
    """Coins sharing one common factor, each with its own mean-reverting spread.

    Parameters
    ----------
    coins
        Member coins (at least two).
    betas
        Loading of each member on the group factor; empty means 1.0 for all.
    half_life_s
        Half-life of each member's OU spread, in simulated seconds.
    spread_std
        Stationary standard deviation of each member's spread, in log-price units.
    factor_vol
        Volatility of the group's own factor, in log-price units per sqrt(hour).
    """

    coins: tuple[str, ...]
    betas: tuple[float, ...] = ()
    half_life_s: float = bounded(GROUP_HALF_LIFE_S, gt=0)
    spread_std: float = bounded(GROUP_SPREAD_STD, ge=0)
    factor_vol: float = bounded(0.006, ge=0)

    def __post_init__(self) -> None:
        if len(self.coins) < 2:
            raise ValueError(f"a cointegration group needs at least two coins, was {list(self.coins)}")
        if len(set(self.coins)) != len(self.coins):
            raise ValueError(f"a cointegration group lists a coin twice: {list(self.coins)}")
        if self.betas and len(self.betas) != len(self.coins):
            raise ValueError(f"group {list(self.coins)} has {len(self.betas)} betas for {len(self.coins)} coins")
        if not all(beta > 0 for beta in self.betas):
            raise ValueError(f"group {list(self.coins)} betas must be positive, were {list(self.betas)}")
        check_bounds(self)

    def beta_of(self, coin: str) -> float:
        """Return the factor loading of `coin`."""
        return self.betas[self.coins.index(coin)] if self.betas else 1.0


@dataclass(frozen=True)
class FactorModelConfig:
    """Parameters of the synthetic fair-value model.

    Parameters
    ----------
    reference_px
        Starting fair value of every coin, in universe order.
    groups
        Cointegration groups; a coin may belong to at most one.
    market_vol
        Volatility of the market factor shared by all coins, per sqrt(hour).
    market_beta
        Loading of every group factor and independent coin on the market factor.
    idio_vol
        Volatility of each independent coin's own random walk, per sqrt(hour).
    premium_half_life_s, premium_std
        OU process of each coin's funding premium (fraction of the oracle price);
        market makers skew their quotes to realise it.
    """

    reference_px: dict[str, float]
    groups: tuple[CointegrationGroup, ...] = ()
    market_vol: float = bounded(MARKET_VOL, ge=0)
    market_beta: float = 1.0
    idio_vol: float = bounded(IDIO_VOL, ge=0)
    premium_half_life_s: float = bounded(7200.0, gt=0)
    premium_std: float = bounded(0.0006, ge=0)

    def __post_init__(self) -> None:
        check_bounds(self)
        seen: set[str] = set()
        for group in self.groups:
            for coin in group.coins:
                if coin not in self.reference_px:
                    raise ValueError(f"group coin {coin!r} is not in the universe ({', '.join(self.reference_px)})")
                if coin in seen:
                    raise ValueError(f"coin {coin!r} is in more than one cointegration group")
                seen.add(coin)
        for coin, px in self.reference_px.items():
            if not px > 0:
                raise ValueError(f"reference price of {coin} must be positive, was {px}")

    def group_of(self, coin: str) -> CointegrationGroup | None:
        """Return the group `coin` belongs to, or None when it walks on its own."""
        for group in self.groups:
            if coin in group.coins:
                return group
        return None


@dataclass
class FactorModel:
    """Seeded simulator of fair values and funding premia under a `FactorModelConfig`.

    Examples
    --------
    >>> config = FactorModelConfig({"A": 10.0, "B": 20.0, "C": 5.0},
    ...                            groups=(CointegrationGroup(("A", "B")),))
    >>> one, two = FactorModel(config, seed=3), FactorModel(config, seed=3)
    >>> [one.step(250) for _ in range(4)] == [two.step(250) for _ in range(4)]
    True
    """

    config: FactorModelConfig
    seed: int = 0
    coins: list[str] = field(init=False)
    market: float = field(init=False, default=0.0)
    group_factors: list[float] = field(init=False)
    spreads: dict[str, float] = field(init=False)
    walks: dict[str, float] = field(init=False)
    premia: dict[str, float] = field(init=False)
    elapsed_s: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.coins = list(self.config.reference_px)
        self.group_factors = [0.0 for _ in self.config.groups]
        self.spreads = {coin: 0.0 for coin in self.coins if self.config.group_of(coin) is not None}
        self.walks = {coin: 0.0 for coin in self.coins if self.config.group_of(coin) is None}
        self.premia = {coin: 0.0 for coin in self.coins}
        self._rng = np.random.default_rng(self.seed)
        self._shock_count = 1 + len(self.config.groups) + 2 * len(self.coins)

    def step(self, dt_ms: float) -> dict[str, float]:
        """Advance every process by `dt_ms` simulated milliseconds and return the fair values."""
        if dt_ms < 0:
            raise ValueError(f"time step must be >= 0 ms, was {dt_ms}")
        if dt_ms == 0:
            return self.fair_values()
        dt_s = dt_ms / 1000.0
        shocks = self._rng.standard_normal(self._shock_count).tolist()
        config = self.config
        self.market = random_walk_step(self.market, dt_s, config.market_vol, shocks[0])
        for index, group in enumerate(config.groups):
            self.group_factors[index] = random_walk_step(
                self.group_factors[index], dt_s, group.factor_vol, shocks[1 + index]
            )
        offset = 1 + len(config.groups)
        for position, coin in enumerate(self.coins):
            shock = shocks[offset + position]
            group = config.group_of(coin)
            if group is None:
                self.walks[coin] = random_walk_step(self.walks[coin], dt_s, config.idio_vol, shock)
            else:
                self.spreads[coin] = ou_step(self.spreads[coin], dt_s, group.half_life_s, group.spread_std, shock)
            premium_shock = shocks[offset + len(self.coins) + position]
            self.premia[coin] = ou_step(
                self.premia[coin], dt_s, config.premium_half_life_s, config.premium_std, premium_shock
            )
        self.elapsed_s += dt_s
        return self.fair_values()

    def log_deviation(self, coin: str) -> float:
        """Return ``log p(t) - log p(0)`` of `coin`."""
        config = self.config
        group = config.group_of(coin)
        if group is None:
            return config.market_beta * self.market + self.walks[coin]
        factor = config.market_beta * self.market + self.group_factors[config.groups.index(group)]
        return group.beta_of(coin) * factor + self.spreads[coin]

    def fair_values(self) -> dict[str, float]:
        """Return the current fair value of every coin."""
        reference = self.config.reference_px
        return {coin: reference[coin] * math.exp(self.log_deviation(coin)) for coin in self.coins}

    def premium(self, coin: str) -> float:
        """Return the current funding premium target of `coin` (fraction of the oracle price)."""
        return self.premia[coin]
