"""Two legs' bars joined into rows by bar time, for the fixed-rule signal modes that other engines can replay.

A row is emitted once both legs have a bar with the same open time; a leg's
bar waits (at most one per leg and time) for the other's. A row is stamped at
the bar close (open time plus the interval): when both prices were known.
"""

from __future__ import annotations

import pickle
from collections import deque
from typing import Any, NamedTuple, TypeVar

from pairflow.events import Bar, Signal

__all__ = ["PairRows", "Row", "plain_restore", "plain_snapshot", "signal_of"]

T = TypeVar("T")


class Row(NamedTuple):
    """One aligned row: close time, first leg's close, second leg's close."""

    ts: int
    y: float
    x: float


class PairRows:
    """Join the closes of ``legs`` (two coins) by bar open time.

    Examples
    --------
    >>> from pairflow.events import Bar
    >>> def bar(coin, ts, px):
    ...     return Bar(ts=ts, recv_ts=ts, id=f"{coin}{ts}", coin=coin, interval="1h", open=px, high=px, low=px,
    ...                close=px, volume=0.0, notional=0.0, vwap=px, trades=0, buy_volume=0.0, sell_volume=0.0)
    >>> rows = PairRows(("ETH", "SOL"), 10)
    >>> rows.add(bar("ETH", 0, 2.0)), rows.add(bar("SOL", 0, 1.0))
    (None, Row(ts=10, y=2.0, x=1.0))
    """

    def __init__(self, legs: tuple[str, ...], interval_ms: int) -> None:
        if len(legs) != 2:
            raise ValueError(f"the fixed-rule signal modes trade pairs; {'/'.join(legs)} has {len(legs)} legs")
        self.legs = legs
        self.interval_ms = interval_ms
        self.waiting: dict[str, tuple[int, float]] = {}

    def add(self, bar: Bar) -> Row | None:
        """Take one leg's bar; return the row it completes, if any."""
        if bar.coin not in self.legs:
            return None
        self.waiting[bar.coin] = (bar.ts, bar.close)
        first, second = (self.waiting.get(coin) for coin in self.legs)
        if first is None or second is None or first[0] != second[0]:
            return None
        self.waiting.clear()
        return Row(first[0] + self.interval_ms, first[1], second[1])


def signal_of(legs: tuple[str, ...], row: Row, target: float, sizes: tuple[float, float], beta: float,
              spread: float, score: float, reason: str) -> Signal:
    """Return the `Signal` of one decision of a fixed-rule mode (``sizes`` in coins, per leg)."""
    pair = "/".join(legs)
    return Signal(ts=row.ts, recv_ts=row.ts, id=f"{pair}:{row.ts}", pair=pair, hedge_ratio=beta, spread=spread,
                  zscore=score, target=target, reason=reason, legs=legs, hedge_ratios=(beta,), leg_targets=sizes)


def _plain(value: Any) -> Any:
    if isinstance(value, deque):
        return ("deque", list(value), value.maxlen)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return ("object", type(value), {name: _plain(inner) for name, inner in vars(value).items()})
    return value


def _rebuilt(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "deque":
        return deque(value[1], maxlen=value[2])
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "object":
        built = value[1].__new__(value[1])
        built.__dict__.update({name: _rebuilt(inner) for name, inner in value[2].items()})
        return built
    return value


def plain_snapshot(rule: object) -> bytes:
    """Pickle an operator's fields as plain values (helpers as their fields, deques as lists): equal states compare equal."""
    return pickle.dumps(_plain(rule))


def plain_restore(cls: type[T], state: bytes) -> T:
    """Rebuild an operator of ``cls`` from `plain_snapshot` output."""
    rule = _rebuilt(pickle.loads(state))
    if not isinstance(rule, cls):
        raise TypeError(f"the snapshot holds a {type(rule).__name__}, not a {cls.__name__}")
    return rule
