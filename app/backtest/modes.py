"""Signal modes a backtest can run: the live spread strategy, rolling-OLS fixed units, literature Kalman units."""

from __future__ import annotations

from typing import Literal

from app.backtest.run import StrategyFactory
from operators.kalman_units import KalmanUnitsPair
from operators.rolling_ols import RollingOlsPair
from operators.spread_strategy import SpreadStrategy
from pairflow.config import StrategySettings
from pairflow.hyperliquid.schemas import interval_ms

__all__ = ["MODES", "Mode", "strategy_factory"]

Mode = Literal["spread", "rolling-ols", "kalman-units"]
MODES: tuple[str, ...] = ("spread", "rolling-ols", "kalman-units")


def strategy_factory(mode: str, *, units: float, window: int | None = None) -> StrategyFactory:
    """Return the factory building each spread's decision path in ``mode``.

    ``rolling-ols``: window ``window`` (default: ``zscore_window``) and bands
    ``entry_z`` / ``exit_z`` / ``stop_z``; ``kalman-units``: ``kalman_delta``,
    ``kalman_observation_variance`` and ``entry_z`` / ``exit_z`` as k and k'.
    Both hold ``units`` of the first leg.
    """
    if mode == "spread":
        return SpreadStrategy
    if mode == "rolling-ols":
        def rolling(legs: tuple[str, ...], settings: StrategySettings) -> RollingOlsPair:
            return RollingOlsPair(legs, interval_ms=interval_ms(settings.bar_interval),
                                  window=window or settings.zscore_window, entry=settings.entry_z,
                                  exit_=settings.exit_z, stop=settings.stop_z, units=units)
        return rolling
    if mode == "kalman-units":
        def kalman(legs: tuple[str, ...], settings: StrategySettings) -> KalmanUnitsPair:
            return KalmanUnitsPair(legs, interval_ms=interval_ms(settings.bar_interval),
                                   delta=settings.kalman_delta, ve=settings.kalman_observation_variance,
                                   k=settings.entry_z, k_exit=settings.exit_z, units=units)
        return kalman
    raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
