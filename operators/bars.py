"""Trade bars: OHLCV, VWAP, trade count and buy/sell volume per event-time window.

How a bar is built
------------------
* Windows are event-time (``Trade.ts``), half-open ``[start, start + interval)``,
  aligned to the epoch. One operator instance serves one coin and builds every
  interval it is given (1 s and 1 m by default) from the same trades.
* The watermark is ``max trade ts seen - lateness_ms``. A bar is emitted once,
  when the watermark passes its end; trades arriving out of order before that
  are simply folded in, so no revision is needed for them.
* A trade is identified by ``Trade.id``. Ids are remembered per window for as
  long as a bar can still change, so a duplicate never counts twice.
* A trade later than the lateness allowance lands in a bar that was already
  emitted: the bar is corrected and emitted again with the same ``id`` (a
  window that was never opened is emitted at once). Such trades are counted
  in ``late_trades``.
* Every version goes out at the trade that makes it: a bar as it stands when
  the watermark passes its end, then once per late trade. So the versions --
  the first above all, which the strategy trades on -- depend only on the
  order of the coin's trades, never on how a reader happened to cut them into
  batches (a correction folded into the batch that closed its bar would
  otherwise go out as the first version in one run and as a correction in
  another). Across corrections ``trades`` strictly grows and
  ``recv_ts`` (the newest receive time of the bar's trades) never shrinks,
  and a correction is always written after the version it replaces, so a
  ReplacingMergeTree keyed on the bar keeps the complete bar.
* Closed bars and their ids are kept for ``retention_ms`` past the watermark;
  a trade older than that can no longer be deduplicated or corrected safely and
  is dropped and counted in ``expired_trades``.
* ``open``/``close`` are the trades with the smallest/largest ``(ts, tid, id)``,
  so arrival order never changes them. Volume, notional and buy/sell volume
  are accumulated as exact integers of 1e-8 units (Hyperliquid prices and sizes
  have at most 8 decimals), so every sum -- and the VWAP derived from them -- is
  the correctly rounded value whatever order the trades arrived in.

Gaps: a `pairflow.events.Gap` of the ``trades`` stream that was not filled
means trades of that span may be missing (the collector was down or lost its
connection, and the venue's replay did not reach back). Every bar overlapping
it is marked ``incomplete``: bars still held are re-emitted so marked (with
the trade count they had, and the mark is never cleared: the bar tables
version rows by ``2 * trades + incomplete``, so the marked bar wins the tie
in any insert order), and bars opened later inside the span are marked at
once. A bar already evicted
(older than ``retention_ms`` past the watermark) is not revised; the ``gaps``
table still covers it.

A fresh start: an instance that did not see a coin's trades from the start
of its open bars (a restart with no recovered state) cannot know what it
missed. The flow folds the coin's stored trades of those bars in first
(`update_batch` drops the ones received again by id); when there are none,
`TradeBars.unseen_before` marks every bar starting before the first trade
received incomplete, as a gap would.

Quiet coins: with no new trade the watermark would not move, so the flow
calls `TradeBars.idle` with the event time that has passed since the coin's
last trade, as told by the other coins' trades (or, when none arrive at all,
by its injected clock: wall time live, event time in a replay); event time is
assumed to advance at that pace, but never past the end of the widest bar
that can still open (the widest interval plus the lateness past the newest
trade): that already closes every open bar, and a clock that jumps ahead (a
stepped wall clock, a resumed machine) cannot push the watermark so far that
the coin's next trades count as expired. (Book updates
are not used to move it: while a backlog is read after a restart, one topic
can run minutes ahead of another in event time.) At the end of a finite input
`TradeBars.close_all` emits the bars still open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from operators.state import PickledState
from pairflow.events import Bar, Gap, Trade

__all__ = ["TradeBars", "interval_label"]

_UNITS = 100_000_000  # 1e-8 fixed-point units for exact sums
_NO_TIME = -(2**62)  # event time before any trade
_NEVER = 2**62  # event time of a threshold that is not due
_NOTIONAL_UNITS = _UNITS * _UNITS


def interval_label(interval_ms: int) -> str:
    """Return the short label of an interval, e.g. ``1s``, ``1m``, ``250ms``.

    Examples
    --------
    >>> interval_label(1_000), interval_label(60_000), interval_label(3_600_000), interval_label(250)
    ('1s', '1m', '1h', '250ms')
    """
    for unit_ms, suffix in ((86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s")):
        if interval_ms % unit_ms == 0:
            return f"{interval_ms // unit_ms}{suffix}"
    return f"{interval_ms}ms"


@dataclass(slots=True)
class _BarState:
    first_key: tuple[int, int, str]
    open: float
    last_key: tuple[int, int, str]
    close: float
    high: float
    low: float
    volume: int = 0
    notional: int = 0
    buy_volume: int = 0
    trades: int = 0
    recv_ts: int = 0
    closed: bool = False
    incomplete: bool = False

    def add(self, key: tuple[int, int, str], px: float, volume: int, notional: int, buy_volume: int,
            recv_ts: int) -> None:
        """Fold in one trade: ``key`` orders it for open and close, volumes in 1e-8 units."""
        if key < self.first_key:
            self.first_key, self.open = key, px
        elif key > self.last_key:
            self.last_key, self.close = key, px
        if px > self.high:
            self.high = px
        elif px < self.low:
            self.low = px
        self.volume += volume
        self.notional += notional
        self.buy_volume += buy_volume
        self.trades += 1
        if recv_ts > self.recv_ts:
            self.recv_ts = recv_ts

    def merge(self, run: _BarState) -> None:
        """Fold in trades summed apart (``run``): the same as adding each, in any order."""
        if run.first_key < self.first_key:
            self.first_key, self.open = run.first_key, run.open
        if run.last_key > self.last_key:
            self.last_key, self.close = run.last_key, run.close
        if run.high > self.high:
            self.high = run.high
        if run.low < self.low:
            self.low = run.low
        self.volume += run.volume
        self.notional += run.notional
        self.buy_volume += run.buy_volume
        self.trades += run.trades
        if run.recv_ts > self.recv_ts:
            self.recv_ts = run.recv_ts


class TradeBars(PickledState):
    """Aggregate one coin's trades into event-time bars of several intervals.

    Parameters
    ----------
    coin
        Coin of the trades fed in; stamped on every bar.
    intervals_ms
        Bar lengths in milliseconds; each must divide the largest one, so a
        trade's window of the largest interval covers all its other windows.
    lateness_ms
        How far behind the newest trade another trade may arrive and still be
        counted before its bar is first emitted.
    retention_ms
        How long past the watermark closed bars stay correctable; trades older
        than that are dropped and counted in ``expired_trades``.

    Examples
    --------
    >>> bars = TradeBars("BTC", intervals_ms=(1_000,), lateness_ms=0)
    >>> def trade(i, ts, px, sz, side="B"):
    ...     return Trade(id=str(i), coin="BTC", ts=ts, px=px, sz=sz, side=side, tid=i)
    >>> bars.update(trade(1, 1_000, 100.0, 1.0))
    []
    >>> bars.update(trade(2, 1_500, 102.0, 3.0, "A"))
    []
    >>> [(b.id, b.open, b.high, b.low, b.close, b.volume, b.vwap, b.sell_volume)
    ...  for b in bars.update(trade(3, 2_000, 101.0, 1.0))]
    [('BTC:1s:1000', 100.0, 102.0, 100.0, 102.0, 4.0, 101.5, 3.0)]

    An unfilled trade gap marks the bars it overlaps, re-emitting closed ones:

    >>> gap = Gap(id="BTC:trades:1900", coin="BTC", stream="trades", ts=5_000, start_ts=1_900, end_ts=2_100,
    ...           filled=False)
    >>> [(b.id, b.trades, b.incomplete) for b in bars.update(gap)]
    [('BTC:1s:1000', 2, True)]
    >>> [(b.id, b.incomplete) for b in bars.update(trade(4, 3_000, 101.0, 1.0))]
    [('BTC:1s:2000', True)]
    """

    def __init__(
        self,
        coin: str = "",
        intervals_ms: tuple[int, ...] = (1_000, 60_000),
        lateness_ms: int = 2_000,
        retention_ms: int = 600_000,
    ) -> None:
        if not intervals_ms or min(intervals_ms) <= 0:
            raise ValueError(f"intervals_ms must be positive, received {intervals_ms!r}")
        widest = max(intervals_ms)
        if any(widest % interval for interval in intervals_ms):
            raise ValueError(f"every interval must divide the largest one, received {intervals_ms!r}")
        if lateness_ms < 0 or retention_ms < 0:
            raise ValueError("lateness_ms and retention_ms must not be negative")
        self.coin = coin
        self.intervals_ms = tuple(sorted(intervals_ms))
        self.lateness_ms = lateness_ms
        self.retention_ms = retention_ms
        self.duplicate_trades = 0
        self.late_trades = 0
        self.expired_trades = 0
        self._widest = widest
        self._labels = {interval: interval_label(interval) for interval in self.intervals_ms}
        self._bars: dict[tuple[int, int], _BarState] = {}
        self._open: dict[tuple[int, int], _BarState] = {}
        self._seen: dict[int, set[str]] = {}
        self._max_ts = _NO_TIME
        self._watermark = _NO_TIME
        self._next_close = _NEVER
        self._next_evict = _NEVER
        self._gaps: list[tuple[int, int]] = []

    @property
    def watermark(self) -> int | None:
        """Return the event time up to which bars are complete (None before any trade)."""
        return None if self._watermark == _NO_TIME else self._watermark

    @property
    def newest_ts(self) -> int | None:
        """Return the newest trade time folded in (None before any trade): where idle time counts from."""
        return None if self._max_ts == _NO_TIME else self._max_ts

    def update(self, event: Trade | Gap) -> list[Bar]:
        """Fold one trade or gap in; return bars that closed or were corrected by it."""
        if type(event) is Gap:
            return self.gap(event)
        return self.update_batch((event,))

    def gap(self, gap: Gap) -> list[Bar]:
        """Mark every bar overlapping an unfilled trade gap incomplete; return the closed ones so revised.

        Gaps of other streams, and filled ones, change nothing.
        """
        if gap.stream != "trades" or gap.filled:
            return []
        return self._mark_incomplete(gap.start_ts, gap.end_ts)

    def unseen_before(self, ts: int) -> list[Bar]:
        """Mark every bar that starts before ``ts`` incomplete; return the closed ones so revised.

        For a fresh start with nothing to rebuild the open bars from (no
        stored trades of the coin): trades before ``ts``, the first one
        received, may belong to its bars and are unknown, so those bars must
        not be taken for complete. Bars opened later that start before ``ts``
        (a late trade) are marked at once, as inside a gap.

        >>> bars = TradeBars("BTC", intervals_ms=(1_000,), lateness_ms=0)
        >>> bars.unseen_before(1_500)
        []
        >>> [(b.id, b.incomplete) for b in bars.update_batch(
        ...     [Trade(id=str(ts), coin="BTC", ts=ts, px=1.0, sz=1.0, side="B") for ts in (1_500, 2_000, 3_000)])]
        [('BTC:1s:1000', True), ('BTC:1s:2000', False)]
        """
        return self._mark_incomplete(_NO_TIME, ts - 1)

    def _mark_incomplete(self, start: int, end: int) -> list[Bar]:
        self._gaps.append((start, end))
        ready = []
        for (interval, bar_start), bar in self._bars.items():
            if bar_start <= end and bar_start + interval > start and not bar.incomplete:
                bar.incomplete = True
                if bar.closed:
                    ready.append(self._version(interval, bar_start, bar))
        return ready

    def update_batch(self, trades: Iterable[Trade]) -> list[Bar]:
        """Fold trades in; return the bar versions they made, in order: the same as one `update` per trade."""
        ready: list[Bar] = []
        version = self._version
        bars = self._bars
        seen_by_bucket = self._seen
        widest = self._widest
        lateness = self.lateness_ms
        keep = widest + self.retention_ms
        watermark = self._watermark
        # Trades come mostly in time order, so a trade usually falls in the bars and the id bucket of the one
        # before: each interval's last [interval, start, end, bar] and the last bucket spare the dict look-ups.
        # Eviction cannot leave them stale: a bar or bucket goes only once a trade in it would be expired.
        current = [[interval, 1, 0, None] for interval in self.intervals_ms]
        seen_bucket = seen = None
        # A run: consecutive trades in [run_start, run_end), the span where every interval's current bar is open.
        # They are summed here and added to those bars when the run ends, not to each bar per trade. Nothing
        # reads the bars meanwhile: no trade of the run closes them (the watermark stays before its newest trade)
        # and versions of other bars hold none of its trades.
        run_start, run_end = 1, 0
        run = 0
        for trade in trades:
            ts = trade.ts
            bucket = ts - ts % widest
            if bucket + keep <= watermark:
                self.expired_trades += 1
                continue
            if bucket != seen_bucket:
                seen = seen_by_bucket.get(bucket)
                if seen is None:
                    seen = seen_by_bucket[bucket] = set()
                    if bucket + keep < self._next_evict:
                        self._next_evict = bucket + keep
                seen_bucket = bucket
            trade_id = trade.id
            if trade_id in seen:
                self.duplicate_trades += 1
                continue
            seen.add(trade_id)
            key = (ts, trade.tid, trade_id)
            px = trade.px
            volume = round(trade.sz * _UNITS)
            notional = round(px * _UNITS) * volume
            buy_volume = volume if trade.side == "B" else 0
            recv_ts = trade.recv_ts
            if run_start <= ts < run_end:
                if run:
                    if key < first_key:
                        first_key, open_px = key, px
                    elif key > last_key:
                        last_key, close_px = key, px
                    if px > high:
                        high = px
                    elif px < low:
                        low = px
                    run_volume += volume
                    run_notional += notional
                    run_buy_volume += buy_volume
                    if recv_ts > run_recv_ts:
                        run_recv_ts = recv_ts
                else:
                    first_key = last_key = key
                    open_px = close_px = high = low = px
                    run_volume, run_notional, run_buy_volume, run_recv_ts = volume, notional, buy_volume, recv_ts
                run += 1
            else:
                if run:
                    self._add_run(current, _BarState(first_key, open_px, last_key, close_px, high, low, run_volume,
                                                     run_notional, run_buy_volume, run, run_recv_ts))
                    run = 0
                late = False
                for slot in current:
                    interval, start, end, bar = slot
                    if not start <= ts < end:
                        start = ts - ts % interval
                        bar = bars.get((interval, start))
                        if bar is None:
                            bar = bars[(interval, start)] = _BarState(key, px, key, px, px, px)
                            end = start + interval
                            if self._gaps:
                                bar.incomplete = any(lo < end and hi >= start for lo, hi in self._gaps)
                            if end <= watermark:
                                bar.closed = True
                            else:
                                self._open[(interval, start)] = bar
                                if end < self._next_close:
                                    self._next_close = end
                        slot[1], slot[2], slot[3] = start, start + interval, bar
                    bar.add(key, px, volume, notional, buy_volume, recv_ts)
                    if bar.closed:
                        ready.append(version(interval, start, bar))
                        late = True
                if late:
                    self.late_trades += 1
                    run_start, run_end = 1, 0
                else:
                    run_start, run_end = max(slot[1] for slot in current), min(slot[2] for slot in current)
            if ts > self._max_ts:
                self._max_ts = ts
                if ts - lateness > watermark:
                    watermark = self._watermark = ts - lateness
                    if watermark >= self._next_close or watermark >= self._next_evict:
                        self._move_watermark(watermark, ready)
        if run:
            self._add_run(current, _BarState(first_key, open_px, last_key, close_px, high, low, run_volume,
                                             run_notional, run_buy_volume, run, run_recv_ts))
        return ready

    @staticmethod
    def _add_run(current: list[list], run: _BarState) -> None:
        for slot in current:
            slot[3].merge(run)

    def idle(self, elapsed_ms: int) -> list[Bar]:
        """Advance event time by ``elapsed_ms`` past the newest trade; return bars that closed.

        Call it when no trade arrived for a while (by the flow's clock), so
        the bars of a quiet coin still close. The advance stops at the widest
        interval past the newest trade, where every bar is closed: a clock
        jump must not expire the trades that follow.
        """
        ready: list[Bar] = []
        watermark = self._max_ts + min(elapsed_ms, self._widest + self.lateness_ms) - self.lateness_ms
        if self._max_ts != _NO_TIME and watermark > self._watermark:
            self._move_watermark(watermark, ready)
        return ready

    def close_all(self) -> list[Bar]:
        """Emit every bar still open, e.g. at the end of a finite input.

        The watermark does not move, so later trades still correct these bars.
        """
        still_open, self._open = self._open, {}
        for bar in still_open.values():
            bar.closed = True
        self._next_close = _NEVER
        return [self._version(interval, start, bar) for (interval, start), bar in still_open.items()]

    def _move_watermark(self, watermark: int, ready: list[Bar]) -> None:
        self._watermark = watermark
        if self._next_close <= watermark:
            next_close = _NEVER
            for key, bar in list(self._open.items()):
                end = key[1] + key[0]
                if end <= watermark:
                    bar.closed = True
                    ready.append(self._version(key[0], key[1], bar))
                    del self._open[key]
                elif end < next_close:
                    next_close = end
            self._next_close = next_close
        if self._next_evict <= watermark:
            keep = self._widest + self.retention_ms
            for bucket in [b for b in self._seen if b + keep <= watermark]:
                del self._seen[bucket]
            for key in [k for k, bar in self._bars.items() if bar.closed and k[1] + keep <= watermark]:
                del self._bars[key]
            self._gaps = [(lo, hi) for lo, hi in self._gaps if hi + keep > watermark]
            self._next_evict = min(self._seen, default=_NEVER - keep) + keep

    def _version(self, interval: int, start: int, bar: _BarState) -> Bar:
        volume = bar.volume
        return Bar(
            id=f"{self.coin}:{self._labels[interval]}:{start}",
            ts=start,
            recv_ts=bar.recv_ts,
            coin=self.coin,
            interval=self._labels[interval],
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=volume / _UNITS,
            notional=bar.notional / _NOTIONAL_UNITS,
            vwap=bar.notional / (volume * _UNITS) if volume else bar.close,
            trades=bar.trades,
            buy_volume=bar.buy_volume / _UNITS,
            sell_volume=(volume - bar.buy_volume) / _UNITS,
            incomplete=bar.incomplete,
        )
