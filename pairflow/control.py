"""Operator controls shared by the API and the running stages: pause entries, halt, flatten, retune.

The API flips these flags; the execution desk reads them on every batch
(entries refused while paused, no order at all while halted, every position
closed on a new flatten request), and the strategy stage reads the tuning on
every batch (new bands and sizes apply to the running spreads without a
restart). One lock guards the state so a reader never sees a half-made
change, and reads are cheap enough for the hot path (one attribute read under
the lock). The state is in memory only: a restarted process starts unpaused
with the configured parameters, and every change is audited in the
``control_audit`` table by the API.

>>> control = Control()
>>> control.entries_allowed()
True
>>> control.pause_entries().entries_paused
True
>>> control.entries_allowed()
False
>>> control.resume_entries().entries_paused
False
>>> control.retune({"entry_z": 2.5})
Tuning(version=1, values={'entry_z': 2.5})
>>> control.tuning().version
1
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

__all__ = ["Control", "ControlState", "Tuning"]


@dataclass(frozen=True)
class ControlState:
    """A consistent view of the controls.

    ``flatten_requests`` counts flatten requests so a stage can tell a new one
    from one it already acted on; ``halted`` is the kill switch: no orders at
    all until resumed.
    """

    entries_paused: bool = False
    halted: bool = False
    flatten_requests: int = 0


@dataclass(frozen=True)
class Tuning:
    """Strategy parameters changed while running, newest value per name.

    ``version`` counts changes, so a stage applies each change once and a
    stage that saw none (version 0) keeps its configured or restored values.
    """

    version: int = 0
    values: Mapping[str, float] = field(default_factory=dict)


class Control:
    """Thread-safe control state; each change returns the state it produced."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = ControlState()
        self._tuning = Tuning()

    def state(self) -> ControlState:
        """Return the current state."""
        with self._lock:
            return self._state

    def entries_allowed(self) -> bool:
        """Return True when the stages may open new positions."""
        with self._lock:
            return not (self._state.entries_paused or self._state.halted)

    def pause_entries(self) -> ControlState:
        """Stop opening positions; exits and flattening continue."""
        return self._change(entries_paused=True)

    def resume_entries(self) -> ControlState:
        """Allow entries again and lift a halt."""
        return self._change(entries_paused=False, halted=False)

    def request_flatten(self) -> ControlState:
        """Ask execution to close every position; entries stay paused until resumed."""
        with self._lock:
            self._state = replace(self._state, entries_paused=True, flatten_requests=self._state.flatten_requests + 1)
            return self._state

    def halt(self) -> ControlState:
        """Kill switch: pause entries, flatten and stop sending orders until resumed."""
        with self._lock:
            self._state = replace(
                self._state, entries_paused=True, halted=True, flatten_requests=self._state.flatten_requests + 1
            )
            return self._state

    def tuning(self) -> Tuning:
        """Return the strategy parameters changed so far."""
        with self._lock:
            return self._tuning

    def retune(self, values: Mapping[str, float]) -> Tuning:
        """Change strategy parameters (already validated by the caller); running spreads take them on their next event."""
        with self._lock:
            self._tuning = Tuning(self._tuning.version + 1, {**self._tuning.values, **values})
            return self._tuning

    def _change(self, **changes: bool) -> ControlState:
        with self._lock:
            self._state = replace(self._state, **changes)
            return self._state
