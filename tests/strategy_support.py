"""Test and benchmark input for the strategy: bars of cointegrated legs, deterministic per seed."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import msgspec

from pairflow.events import Bar

__all__ = ["bar", "cointegrated_bars"]


def bar(coin: str, ts: int, close: float, interval: str = "1m", recv_ts: int | None = None) -> Bar:
    """Return a one-trade bar of ``coin`` opening at ``ts`` and closing at ``close``."""
    return Bar(
        id=f"{coin}:{interval}:{ts}", coin=coin, ts=ts, recv_ts=ts + 61_000 if recv_ts is None else recv_ts,
        interval=interval, open=close, high=close, low=close, close=close, volume=1.0, notional=close,
        vwap=close, trades=1, buy_volume=1.0, sell_volume=0.0,
    )


def cointegrated_bars(
    legs: tuple[str, ...],
    rows: int,
    seed: int = 1,
    interval_ms: int = 60_000,
    start_ms: int = 1_700_000_000_000,
    half_life_rows: float = 20.0,
    spread_std: float = 0.004,
) -> list[Bar]:
    """Return ``rows`` bars per leg: a common random walk plus a mean-reverting spread on the first leg.

    Legs share a factor with loadings 1.0, 0.8, 1.2, ...; the first leg also
    carries an AR(1) spread with the given half-life. Bars of one period come
    leg after leg, periods in time order.
    """
    rng = random.Random(seed)
    phi = 0.5 ** (1.0 / half_life_rows)
    factor, spread = 0.0, 0.0
    loadings = [1.0] + [0.8 + 0.4 * (i % 2) for i in range(len(legs) - 1)]
    bases = [math.log(100.0 * (i + 1) ** 2) for i in range(len(legs))]
    out: list[Bar] = []
    for row in range(rows):
        factor += rng.gauss(0.0, 0.002)
        spread = phi * spread + rng.gauss(0.0, spread_std * math.sqrt(1 - phi * phi))
        ts = start_ms + row * interval_ms
        for index, coin in enumerate(legs):
            log_px = bases[index] + loadings[index] * factor + (spread if index == 0 else 0.0)
            out.append(bar(coin, ts, float(f"{math.exp(log_px):.5g}")))
    return out


def corrected_legs(bars: list[Bar], every: int = 9) -> list[list[Bar]]:
    """Return each leg's own sequence of ``bars`` as ingest publishes it: some bars re-emitted, corrected.

    Every ``every``-th bar gets a correction (one more trade, close 1% up) that
    follows 1 to 3 later bars of its coin, as a late trade revises a bar
    already handed on. Legs come in order of first appearance.
    """
    legs: dict[str, list[Bar]] = {}
    for index, original in enumerate(bars):
        sequence = legs.setdefault(original.coin, [])
        sequence.append(original)
        if index % every == every // 2:
            correction = msgspec.structs.replace(original, close=original.close * 1.01, trades=original.trades + 1)
            sequence.insert(len(sequence) + index % 3, correction)
    return list(legs.values())


def interleave(sequences: list[list[Bar]], choose: Callable[[list[list[Bar]]], list[Bar]]) -> list[Bar]:
    """Merge ``sequences`` keeping each one's own order; ``choose`` picks the sequence to take the next bar from."""
    queues, out = [list(sequence) for sequence in sequences], []
    while any(queues):
        out.append(choose([queue for queue in queues if queue]).pop(0))
    return out


def in_time_order(queues: list[list[Bar]]) -> list[Bar]:
    """Choose the sequence whose next bar is the oldest (ties: the first), for `interleave`."""
    return min(queues, key=lambda queue: queue[0].ts)
