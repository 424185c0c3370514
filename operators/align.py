"""As-of alignment of a spread's legs, with a staleness limit and gap detection.

Legs arrive as separate streams (one bar or mid per coin). A row of prices is
emitted when the slowest leg moves forward -- so with bars every leg has
reported the period before the spread is computed -- stamped with the newest
leg time (the moment the row became known, so nothing in it is from the
future). A row is refused while a leg is missing, when one leg is older than
``staleness_ms`` compared with the newest, or right after a gap longer than
``max_gap_ms`` between rows (the change across a gap is not one step of the
process); the next row after a gap is emitted normally. Rows are stamped in
strictly increasing time: once a row for a time is decided (emitted, or
refused as a gap), legs catching up to that time update their prices for the
next row instead of producing a second row of the same time.
"""

from __future__ import annotations

from typing import NamedTuple

from operators.guard import Guarded, price_problem

__all__ = ["Aligned", "AsOfAligner"]


class Aligned(NamedTuple):
    """Prices of every leg (in leg order) known at ``ts``."""

    ts: int
    prices: tuple[float, ...]


class AsOfAligner(Guarded):
    """Align ``(coin, ts, price)`` events of the legs ``coins`` into `Aligned` rows.

    Per leg, ``ts`` must increase; a price must be finite and positive; a
    coin outside ``coins`` is refused. Refused events leave the state as it was.

    Parameters
    ----------
    coins
        The legs, in the order of `Aligned.prices`.
    staleness_ms
        Largest age of a leg behind the newest one in an emitted row.
    max_gap_ms
        Largest time between two rows before the row is refused as a gap
        (None: no limit).

    Examples
    --------
    >>> align = AsOfAligner(("ETH", "BTC"), staleness_ms=60_000)
    >>> align.update(("ETH", 0, 3000.0)), align.last_reason
    ([], 'missing: no price yet for BTC')
    >>> align.update(("BTC", 0, 60000.0))
    [Aligned(ts=0, prices=(3000.0, 60000.0))]
    >>> align.update(("ETH", 60_000, 3010.0))
    []
    >>> align.update(("BTC", 60_000, 0.0)), align.last_reason
    ([], 'invalid: BTC price was 0.0, not positive')
    >>> align.update(("BTC", 60_000, 60100.0))
    [Aligned(ts=60000, prices=(3010.0, 60100.0))]
    >>> align.update(("ETH", 120_000, 3020.0)), align.update(("BTC", 180_000, 60200.0))  # BTC had no bar at 120_000
    ([], [Aligned(ts=180000, prices=(3020.0, 60200.0))])
    >>> align.update(("ETH", 180_000, 3030.0))  # the row at 180_000 is decided: this price goes into the next one
    []
    """

    def __init__(self, coins: tuple[str, ...] = ("A", "B"), staleness_ms: int = 60_000, max_gap_ms: int | None = None) -> None:
        if len(coins) < 2 or len(set(coins)) != len(coins):
            raise ValueError(f"coins must be at least two distinct legs, received {coins!r}")
        if staleness_ms < 0:
            raise ValueError(f"staleness_ms must not be negative, received {staleness_ms}")
        self._init_guard()
        self.coins = tuple(coins)
        self.staleness_ms = staleness_ms
        self.max_gap_ms = max_gap_ms
        self._index = {coin: i for i, coin in enumerate(self.coins)}
        self._prices: list[float | None] = [None] * len(self.coins)
        self._times: list[int | None] = [None] * len(self.coins)
        self._watermark: int | None = None

    def update(self, event: tuple[str, int, float]) -> list[Aligned]:
        """Record one leg's price; return a row when every leg has moved past the last one."""
        coin, ts, price = event
        index = self._index.get(coin)
        if index is None:
            return self._reject("unknown-leg", f"{coin} is not a leg of {'/'.join(self.coins)}")
        problem = price_problem(coin, price)
        if problem:
            return self._reject("invalid", problem)
        previous = self._times[index]
        if previous is not None and ts <= previous:
            return self._reject("out-of-order", f"{coin} ts {ts} was not after {previous}")
        self._prices[index] = price
        self._times[index] = ts
        times = self._times
        if None in times:
            missing = ", ".join(c for c, t in zip(self.coins, times, strict=True) if t is None)
            return self._reject("missing", f"no price yet for {missing}")
        oldest = min(times)  # type: ignore[type-var]
        newest = max(times)  # type: ignore[type-var]
        if newest - oldest > self.staleness_ms:
            stale = ", ".join(c for c, t in zip(self.coins, times, strict=True) if newest - t > self.staleness_ms)
            return self._reject("stale", f"{stale} older than {self.staleness_ms} ms at {newest}")
        if self._watermark is not None and oldest <= self._watermark:
            return []
        last_row = self.last_ts
        self._watermark = oldest
        if newest == last_row:
            # The lagging legs caught up with the row already stamped `newest` (a leg with no bar for some
            # periods, then one at the leader's time): that time was decided, and a second row for it is one
            # every time-ordered operator downstream refuses. The price is kept for the next row.
            return []
        self.last_ts = newest
        if self.max_gap_ms is not None and last_row is not None and newest - last_row > self.max_gap_ms:
            return self._reject("gap", f"{newest - last_row} ms since the previous row at {last_row}")
        return [Aligned(newest, tuple(self._prices))]  # type: ignore[arg-type]
