"""Range limits declared beside a config field's default, and the one check that holds a config to them.

A market config states each numeric parameter's default and its allowed range
on one line (``levels: int = bounded(6, ge=1, le=50)``), so the two cannot
drift apart, and every config refuses a value out of range with the same
one-line error naming the field. A NaN is out of every range: it fails every
comparison.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import field, fields
from typing import Any

__all__ = ["bounded", "check_bounds"]

_COMPARISONS: dict[str, tuple[Callable[[Any, Any], bool], str]] = {
    "gt": (operator.gt, ">"), "ge": (operator.ge, ">="), "lt": (operator.lt, "<"), "le": (operator.le, "<="),
}


def bounded(default: float, *, gt: float | None = None, ge: float | None = None, lt: float | None = None,
            le: float | None = None) -> Any:
    """Return a dataclass field defaulting to ``default`` whose value `check_bounds` holds within the limits.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Ladder:
    ...     levels: int = bounded(6, ge=1, le=50)
    ...     def __post_init__(self) -> None:
    ...         check_bounds(self)
    >>> Ladder().levels
    6
    >>> Ladder(levels=51)
    Traceback (most recent call last):
    ...
    ValueError: levels must be <= 50, was 51
    """
    limits = {name: limit for name, limit in (("gt", gt), ("ge", ge), ("lt", lt), ("le", le)) if limit is not None}
    return field(default=default, metadata={"bounds": limits})


def check_bounds(config: Any) -> None:
    """Raise ValueError naming the first field of the dataclass ``config`` outside its `bounded` limits."""
    for item in fields(config):
        value = getattr(config, item.name)
        for name, limit in item.metadata.get("bounds", {}).items():
            compare, symbol = _COMPARISONS[name]
            if not compare(value, limit):
                raise ValueError(f"{item.name} must be {symbol} {limit:g}, was {value!r}")
