"""Parameter sensitivity of one backtest: the same run repeated over values of one strategy setting.

An optimisation shows sensitivity only through the trials its sampler chose;
a sweep shows it on a grid the researcher picks, around a configuration they
already run (``pairflow backtest --sweep entry_z=1.5,2,2.5``), so a cliff next
to the chosen value is visible before it is traded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from app.backtest.run import BacktestResult
from pairflow.config import Settings, StrategySettings
from pairflow.errors import ConfigError

__all__ = ["parse_sweep", "run_sweep"]


def parse_sweep(text: str) -> tuple[str, list[float | int]]:
    """Return the setting and its values from ``NAME=V1,V2,...``; one line naming the mistake otherwise.

    Examples
    --------
    >>> parse_sweep("entry_z=1.5,2, 2.5")
    ('entry_z', [1.5, 2.0, 2.5])
    >>> parse_sweep("zscore_window=24,48")
    ('zscore_window', [24, 48])
    >>> parse_sweep("colour=red")
    Traceback (most recent call last):
    ...
    pairflow.errors.ConfigError: --sweep 'colour=red': colour is not a numeric strategy setting (staleness_ms, max_gap_ms, ...)
    """
    name, _, listed = text.partition("=")
    name = name.strip()
    field = StrategySettings.model_fields.get(name)
    kind = field.annotation if field is not None else None
    if kind not in (int, float):
        numeric = [key for key, info in StrategySettings.model_fields.items() if info.annotation in (int, float)]
        raise ConfigError(f"--sweep {text!r}: {name or '(nothing)'} is not a numeric strategy setting "
                          f"({', '.join(numeric[:2])}, ...)")
    values: list[float | int] = []
    for item in (part.strip() for part in listed.split(",")):
        try:
            values.append(kind(item))  # type: ignore[misc]
        except ValueError:
            raise ConfigError(f"--sweep {text!r}: {item!r} is not a{'n integer' if kind is int else ' number'}")
    if len(values) < 2:
        raise ConfigError(f"--sweep {text!r}: give two or more values, e.g. {name}=1,2")
    return name, values


def run_sweep(settings: Settings, name: str, values: Sequence[float | int],
              run: Callable[[Settings], BacktestResult]) -> list[tuple[dict[str, Any], BacktestResult]]:
    """Return ``({name: value}, result)`` of ``run`` on a copy of ``settings`` per value, in the order given.

    Each value is checked by the settings model as a configuration file's would be.
    """
    out = []
    for value in values:
        copy = settings.model_copy(deep=True)
        try:
            copy.strategy = StrategySettings.model_validate({**copy.strategy.model_dump(), name: value})
        except ValueError as error:
            raise ConfigError(f"--sweep {name}={value}: {str(error).splitlines()[-1].strip()}") from None
        out.append(({name: value}, run(copy)))
    return out
