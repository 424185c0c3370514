"""Conformance battery every operator must pass (see STYLE.md, "Conformance").

An operator is a plain object with ``update(event) -> list``, ``snapshot()``
returning an immutable picklable copy of its state (pickled bytes are fine:
they are compared by content), and a classmethod ``restore(state)`` that
rebuilds it. `check_operator` proves the three
properties recovery depends on: the operator pickles, a restored snapshot
behaves exactly like the original, and the same input gives the same output.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["OperatorCheckError", "StatefulOperator", "check_operator"]


class StatefulOperator(Protocol):
    """Shape of a pairflow operator."""

    def update(self, event: Any) -> list[Any]: ...

    def snapshot(self) -> Any: ...

    @classmethod
    def restore(cls, state: Any) -> StatefulOperator: ...


class OperatorCheckError(AssertionError):
    """Raise when an operator breaks one of the conformance properties."""


def _state(snapshot: Any) -> Any:
    return pickle.loads(snapshot) if isinstance(snapshot, bytes) else snapshot


def _feed(operator: StatefulOperator, events: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for event in events:
        out.extend(operator.update(event))
    return out


def check_operator(operator: StatefulOperator, events: Sequence[Any]) -> None:
    """Run the conformance battery on a fresh ``operator`` with ``events``.

    Checks, in order: determinism (two copies fed the same events emit equal
    outputs and end in equal states), pickle round-trip mid-stream, and
    snapshot/restore mid-stream (the restored operator continues exactly like
    the original, and feeding the original does not alter an earlier
    snapshot).

    Parameters
    ----------
    operator
        A freshly built operator; it is not modified (copies are used).
    events
        Input long enough to exercise state; it is split in half.

    Raises
    ------
    OperatorCheckError
        Naming the property that failed.
    """
    events = list(events)
    pristine = pickle.dumps(operator)
    first, second = pickle.loads(pristine), pickle.loads(pristine)
    out_first, out_second = _feed(first, events), _feed(second, events)
    if out_first != out_second or _state(first.snapshot()) != _state(second.snapshot()):
        raise OperatorCheckError(f"{type(operator).__name__} is not deterministic on the same input")

    half = len(events) // 2
    original = pickle.loads(pristine)
    _feed(original, events[:half])
    pickled = pickle.loads(pickle.dumps(original))
    state = original.snapshot()
    frozen = pickle.dumps(state)
    restored = type(original).restore(state)
    if _state(restored.snapshot()) != _state(state):
        raise OperatorCheckError(f"{type(operator).__name__}.restore(snapshot) does not reproduce the snapshot")

    rest_original = _feed(original, events[half:])
    if pickle.dumps(state) != frozen:
        raise OperatorCheckError(f"{type(operator).__name__}.snapshot() shares state with the live operator")
    if _feed(pickled, events[half:]) != rest_original:
        raise OperatorCheckError(f"{type(operator).__name__} behaves differently after a pickle round-trip")
    if _feed(restored, events[half:]) != rest_original:
        raise OperatorCheckError(f"{type(operator).__name__} behaves differently after snapshot/restore")
    if _state(restored.snapshot()) != _state(original.snapshot()):
        raise OperatorCheckError(f"{type(operator).__name__} state diverged after snapshot/restore")
