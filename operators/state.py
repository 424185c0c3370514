"""Snapshot and restore an operator's whole state as pickled bytes; the immutable base of the records operators exchange."""

from __future__ import annotations

import pickle
import random
import types
from collections.abc import Mapping
from typing import Any, Self

import msgspec

__all__ = ["ModelSnapshot", "ModelState", "PickledState", "Record", "canonical"]


class Record(msgspec.Struct, frozen=True):
    """Base of the records operators take and emit.

    Immutable, so a record an operator keeps in its state (and so in its
    snapshots) cannot be changed by the stage it was emitted to.
    """


class PickledState:
    """Give an operator ``snapshot`` and ``restore`` over its whole instance ``__dict__``.

    Pickled bytes suit Bytewax recovery: they are immutable, so a later update
    cannot change a stored snapshot, and Bytewax stores them without another
    deep copy.
    """

    def snapshot(self) -> bytes:
        """Return the whole state pickled: immutable, and Bytewax stores it without another deep copy."""
        return pickle.dumps(self.__dict__, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, state: bytes) -> Self:
        """Rebuild an operator from a `snapshot`."""
        operator = cls.__new__(cls)
        operator.__dict__.update(pickle.loads(state))
        return operator


def canonical(value: Any) -> Any:
    """Return a structural, hashable-free picture of ``value`` that compares by content.

    River models do not define equality, and their pickles are not byte-stable
    across a round trip (string sharing differs), so two models in the same
    state are compared through this picture instead: containers are walked,
    objects become ``(type, attributes)`` and floats their ``repr`` (so NaN
    equals NaN).

    Examples
    --------
    >>> canonical({"b": 1.0, "a": [float("nan")]}) == canonical({"a": [float("nan")], "b": 1.0})
    True
    """
    return _canonical(value, set())


def _canonical(value: Any, seen: set[int]) -> Any:
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return getattr(value, "__qualname__", repr(value))
    if isinstance(value, random.Random):
        return ("Random", value.getstate())
    if id(value) in seen:
        return ("<cycle>", type(value).__qualname__)
    seen = seen | {id(value)}
    if isinstance(value, Mapping):
        items = sorted(((_canonical(k, seen), _canonical(v, seen)) for k, v in value.items()), key=repr)
        return (type(value).__qualname__, tuple(items))
    if isinstance(value, (set, frozenset)):
        return (type(value).__qualname__, tuple(sorted((_canonical(v, seen) for v in value), key=repr)))
    if isinstance(value, (list, tuple)) or type(value).__name__ == "deque":
        return (type(value).__qualname__, tuple(_canonical(v, seen) for v in value))
    if hasattr(value, "tolist"):
        return (type(value).__qualname__, _canonical(value.tolist(), seen))
    if hasattr(value, "__dict__"):
        return (type(value).__qualname__, _canonical(vars(value), seen))
    slots = getattr(type(value), "__slots__", ())
    if slots:
        return (type(value).__qualname__, tuple(_canonical(getattr(value, s, None), seen) for s in slots))
    # Extension types (River's Rust and Cython parts) expose their state through pickling.
    reduced = value.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    if isinstance(reduced, tuple):
        return (type(value).__qualname__, _canonical(reduced[1:], seen))
    return repr(value)


class ModelSnapshot:
    """Pickled operator state that compares by content (see `canonical`).

    Bytewax stores it as is; equality exists for the conformance battery and
    recovery tests, which need to tell "same state" from "same object".
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelSnapshot):
            return NotImplemented
        return self.data == other.data or canonical(pickle.loads(self.data)) == canonical(pickle.loads(other.data))

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple:
        return (ModelSnapshot, (self.data,))


class ModelState:
    """`PickledState` for operators that hold River models: snapshots compare by content."""

    def snapshot(self) -> ModelSnapshot:
        """Return the whole state pickled inside a `ModelSnapshot`."""
        return ModelSnapshot(pickle.dumps(self.__dict__, protocol=pickle.HIGHEST_PROTOCOL))

    @classmethod
    def restore(cls, state: ModelSnapshot) -> Self:
        """Rebuild an operator from a `snapshot`."""
        operator = cls.__new__(cls)
        operator.__dict__.update(pickle.loads(state.data))
        return operator
