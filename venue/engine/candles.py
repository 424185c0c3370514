"""Candles built from trades: 1-minute buckets kept, every other interval aggregated on request."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import datetime, timezone

from pairflow.hyperliquid.schemas import CANDLE_INTERVALS, candle_interval_ms

from .rules import dec
from .views import Candle

MINUTE = 60_000
_LENGTH_MS = {interval: candle_interval_ms(interval) for interval in CANDLE_INTERVALS}
"""Length of each candle interval, looked up on every bucket (1M buckets follow the calendar instead)."""
_WEEK_OFFSET = 4 * 1440 * MINUTE
"""Weeks open on Monday 00:00 UTC; the epoch was a Thursday."""
MAX_CANDLES = 5000


def bucket_start(time_ms: int, interval: str) -> int:
    """Return the open time of the ``interval`` candle containing ``time_ms``."""
    if interval == "1M":
        moment = datetime.fromtimestamp(time_ms / 1000, tz=timezone.utc)
        return int(datetime(moment.year, moment.month, 1, tzinfo=timezone.utc).timestamp() * 1000)
    length = _LENGTH_MS[interval]
    if interval == "1w":
        return (time_ms - _WEEK_OFFSET) // length * length + _WEEK_OFFSET
    return time_ms // length * length


def bucket_end(start_ms: int, interval: str) -> int:
    """Return the close time ``T`` (= next open - 1) of the candle opening at ``start_ms``."""
    if interval == "1M":
        moment = datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc)
        year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        return int(datetime(year, month, 1, tzinfo=timezone.utc).timestamp() * 1000) - 1
    return start_ms + _LENGTH_MS[interval] - 1


class CandleSeries:
    """Keep 1-minute bars ``[o, h, l, c, volume, trades, notional]`` of one coin (scaled integers).

    The notional (sum of price x size, micro-USDC) makes ``dayNtlVlm`` exact.
    """

    __slots__ = ("starts", "bars", "folded")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.bars: list[list[int]] = []
        self.folded: dict[str, tuple[int, int, list[int] | None]] = {}

    def add(self, time_ms: int, px: int, sz: int) -> None:
        """Fold one trade into its minute bar (trades arrive in time order)."""
        start = time_ms - time_ms % MINUTE
        if self.starts and self.starts[-1] == start:
            bar = self.bars[-1]
            if px > bar[1]:
                bar[1] = px
            elif px < bar[2]:
                bar[2] = px
            bar[3] = px
            bar[4] += sz
            bar[5] += 1
            bar[6] += px * sz
        else:
            self.starts.append(start)
            self.bars.append([px, px, px, px, sz, 1, px * sz])

    def aggregate(self, interval: str, start_ms: int, end_ms: int) -> list[tuple[int, list[int]]]:
        """Return ``(open_ms, [o, h, l, c, v, n, notional])`` for candles opening in ``[start_ms, end_ms]``.

        A candle that opened before ``start_ms`` is left out even when it is still running then,
        as the real ``candleSnapshot`` does.
        """
        first_open = bucket_start(start_ms, interval)
        if first_open < start_ms:
            first_open = bucket_end(first_open, interval) + 1
        first = bisect_left(self.starts, first_open)
        last = bisect_right(self.starts, bucket_end(bucket_start(end_ms, interval), interval))
        out: list[tuple[int, list[int]]] = []
        for index in range(first, last):
            opened = bucket_start(self.starts[index], interval)
            bar = self.bars[index]
            if out and out[-1][0] == opened:
                agg = out[-1][1]
                agg[1] = max(agg[1], bar[1])
                agg[2] = min(agg[2], bar[2])
                agg[3] = bar[3]
                agg[4] += bar[4]
                agg[5] += bar[5]
                agg[6] += bar[6]
            else:
                out.append((opened, list(bar)))
        return out[-MAX_CANDLES:]

    def latest(self, interval: str) -> tuple[int, list[int]] | None:
        """Return the newest ``interval`` candle, folding only minute bars not seen by the previous call."""
        if not self.bars:
            return None
        opened = bucket_start(self.starts[-1], interval)
        cached = self.folded.get(interval)
        if cached is None or cached[0] != opened:
            index, agg = bisect_left(self.starts, opened), None
        else:
            _, index, agg = cached
        last = len(self.bars) - 1
        for position in range(index, last):
            agg = _merge(agg, self.bars[position])
        self.folded[interval] = (opened, last, agg)
        return opened, _merge(agg, self.bars[last])

    def window(self, start_ms: int, end_ms: int) -> list[list[int]]:
        """Return the minute bars opening in ``[start_ms, end_ms)``."""
        return self.bars[bisect_left(self.starts, start_ms):bisect_left(self.starts, end_ms)]


def _merge(agg: list[int] | None, bar: list[int]) -> list[int]:
    if agg is None:
        return list(bar)
    return [agg[0], max(agg[1], bar[1]), min(agg[2], bar[2]), bar[3], agg[4] + bar[4], agg[5] + bar[5],
            agg[6] + bar[6]]


def candle_view(coin: str, interval: str, opened: int, bar: list[int], pxd: int, szd: int) -> Candle:
    """Return the typed candle of an aggregated bar ``[o, h, l, c, v, n, notional]``."""
    return Candle(coin, interval, opened, bucket_end(opened, interval), dec(bar[0], pxd), dec(bar[3], pxd),
                  dec(bar[1], pxd), dec(bar[2], pxd), dec(bar[4], szd), bar[5])
