"""Signal modes a backtest can run: the live spread strategy, rolling-OLS fixed units, literature Kalman units,
and the recorded signals of a paper or live session."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Literal

from app.backtest.run import StrategyFactory
from operators.kalman_units import KalmanUnitsPair
from operators.rolling_ols import RollingOlsPair
from operators.spread_strategy import SpreadStrategy, pair_name
from pairflow.config import StrategySettings
from pairflow.events import Event, Signal
from pairflow.hyperliquid.schemas import interval_ms

__all__ = ["MODES", "Mode", "RecordedSignals", "recorded_factory", "strategy_factory"]

Mode = Literal["spread", "rolling-ols", "kalman-units", "recorded"]
MODES: tuple[str, ...] = ("spread", "rolling-ols", "kalman-units", "recorded")


class RecordedSignals:
    """One spread's stored signals, each released by the first event at or after its time.

    Replaying a session's own decisions isolates the execution: the backtest's fills can then be
    compared order by order with the session's (same signal ids, so the same cloids).

    Examples
    --------
    >>> from pairflow.events import Funding
    >>> signal = Signal(ts=5, id="s", pair="ETH/SOL", hedge_ratio=1.0, spread=0.0, zscore=2.0, target=1.0)
    >>> source = RecordedSignals([signal])
    >>> [len(source.update(Funding(ts=ts, id=str(ts), coin="ETH", rate=0.0))) for ts in (4, 5, 6)]
    [0, 1, 0]
    """

    def __init__(self, signals: Sequence[Signal]) -> None:
        self.pending = deque(sorted(signals, key=lambda signal: (signal.ts, signal.id)))

    def update(self, event: Event) -> list[Signal]:
        """Return the recorded signals stamped at or before ``event``'s time, once each."""
        out = []
        while self.pending and self.pending[0].ts <= event.ts:
            out.append(self.pending.popleft())
        return out


def recorded_factory(signals: Mapping[str, Sequence[Signal]]) -> StrategyFactory:
    """Return the factory replaying ``signals`` (by spread name) instead of deciding."""
    def recorded(legs: tuple[str, ...], settings: StrategySettings) -> RecordedSignals:
        return RecordedSignals(signals.get(pair_name(legs), ()))
    return recorded


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
