"""Reference bars for tests: computed in one pass over the trades with exact arithmetic."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

from operators.bars import interval_label
from pairflow.events import Trade


def batch_bars(trades: list[Trade], intervals: tuple[int, ...]) -> dict[str, tuple]:
    """Compute every bar directly from the unique trades with exact arithmetic.

    Returns ``{bar id: (open, high, low, close, volume, notional, vwap, trades,
    buy_volume, sell_volume)}``.
    """
    windows: dict[tuple[str, int, int], list[Trade]] = defaultdict(list)
    for trade in {t.id: t for t in trades}.values():
        for interval in intervals:
            windows[(trade.coin, interval, trade.ts - trade.ts % interval)].append(trade)
    out = {}
    for (coin, interval, start), members in windows.items():
        ordered = sorted(members, key=lambda t: (t.ts, t.tid, t.id))
        volume = sum(Fraction(repr(t.sz)) for t in members)
        notional = sum(Fraction(repr(t.px)) * Fraction(repr(t.sz)) for t in members)
        buy = sum(Fraction(repr(t.sz)) for t in members if t.side == "B")
        out[f"{coin}:{interval_label(interval)}:{start}"] = (
            ordered[0].px,
            max(t.px for t in members),
            min(t.px for t in members),
            ordered[-1].px,
            float(volume),
            float(notional),
            float(notional / volume),
            len(members),
            float(buy),
            float(volume - buy),
        )
    return out
