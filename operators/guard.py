"""Input checks shared by the strategy operators: a bad event gives no output and a reason.

An operator that rejects an event returns ``[]`` and leaves its statistics
untouched, so one NaN, a zero price or an out-of-order bar can never poison a
spread's state. The reason is kept in ``last_reason`` and counted per kind in
``rejects`` so the flow can log and meter it without the operator doing IO.
"""

from __future__ import annotations

import math
from collections import deque

from operators.state import PickledState

__all__ = ["Guarded", "ValueWindow", "finite_problem", "price_problem"]


def finite_problem(name: str, value: float | None) -> str | None:
    """Return why ``value`` is unusable as a number, or None if it is finite.

    Examples
    --------
    >>> finite_problem("spread", float("nan")), finite_problem("spread", -1.5)
    ('spread was nan', None)
    """
    if value is None:
        return f"{name} was missing"
    if not math.isfinite(value):
        return f"{name} was {value}"
    return None


def price_problem(name: str, value: float | None) -> str | None:
    """Return why ``value`` is unusable as a price (missing, not finite, not positive), or None.

    Examples
    --------
    >>> price_problem("BTC", 0.0), price_problem("BTC", 97_000.0)
    ('BTC price was 0.0, not positive', None)
    """
    problem = finite_problem(f"{name} price", value)
    if problem is None and value <= 0:  # type: ignore[operator]
        return f"{name} price was {value}, not positive"
    return problem


class Guarded(PickledState):
    """Give an operator rejection bookkeeping and an event-time order check.

    Subclasses call ``_init_guard()`` in ``__init__`` and return
    ``self._reject(kind, detail)`` for an event they refuse; most start
    ``update`` with ``if not self._admit(ts, value=value): return []``.
    """

    rejects: dict[str, int]
    last_reason: str | None
    last_ts: int | None

    def _init_guard(self) -> None:
        self.rejects = {}
        self.last_reason = None
        self.last_ts = None

    def _reject(self, kind: str, detail: str) -> list:
        self.rejects[kind] = self.rejects.get(kind, 0) + 1
        self.last_reason = f"{kind}: {detail}"
        return []

    def _order_problem(self, ts: int) -> str | None:
        if self.last_ts is not None and ts <= self.last_ts:
            return f"ts {ts} was not after the previous {self.last_ts}"
        return None

    def _admit(self, ts: int, **values: float | None) -> bool:
        """Check ``values`` are finite and ``ts`` is after the last one; advance ``last_ts`` if so.

        One place for the check every scalar operator makes first, so the
        reject kinds ("invalid", "out-of-order") and their order stay the same
        across operators. A refused event is recorded and leaves state alone.
        """
        for name, value in values.items():
            problem = finite_problem(name, value)
            if problem:
                self._reject("invalid", problem)
                return False
        problem = self._order_problem(ts)
        if problem:
            self._reject("out-of-order", problem)
            return False
        self.last_ts = ts
        return True


class ValueWindow(Guarded):
    """Base of the operators computed over the last ``window`` values of one series.

    Subclasses set ``minimum_window`` (the shortest window their statistic
    means anything over) and start ``update`` with ``_window_full``.
    """

    minimum_window = 2

    def __init__(self, window: int) -> None:
        if window < self.minimum_window:
            raise ValueError(f"window must be at least {self.minimum_window}, received {window}")
        self._init_guard()
        self.window = window
        self._values: deque[float] = deque(maxlen=window)

    def _window_full(self, ts: int, value: float) -> bool:
        """Admit ``(ts, value)`` into the window; True once it holds ``window`` values."""
        if not self._admit(ts, value=value):
            return False
        self._values.append(value)
        return len(self._values) == self.window
