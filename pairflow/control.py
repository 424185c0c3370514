"""Operator controls shared by the API and the running stages: pause entries, halt, flatten, retune.

The API flips these flags; the execution desk reads them on every batch
(entries refused while paused, no order at all while halted, every position
closed on a new flatten request), and the strategy stage reads the tuning on
every batch (new bands and sizes apply to the running spreads without a
restart). One lock guards the state so a reader never sees a half-made
change, and reads are cheap enough for the hot path (one attribute read under
the lock). Given a pause file (`pairflow.pause_file`), a pause, flatten or
halt is written to it as it is set and removed on resume, and a new Control
starts paused (or halted) from it, saying so in one log line: an operator's
pause outlives the process. The tuning is in memory only (a restarted process
takes the configured parameters), and every change is audited in the
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
from datetime import UTC, datetime
from pathlib import Path

from pairflow.clock import Clock, WallClock
from pairflow.logs import get_logger
from pairflow.pause_file import Pause, clear_pause, read_pause, write_pause

__all__ = ["Control", "ControlState", "Tuning"]

_log = get_logger(__name__)


@dataclass(frozen=True)
class ControlState:
    """A consistent view of the controls.

    ``flatten_requests`` counts flatten requests so a stage can tell a new one
    from one it already acted on; ``halted`` is the kill switch: no orders at
    all until resumed. ``pause_reason`` says who paused and why ("" when not
    paused), so an operator sees why a restarted trader refuses entries.
    """

    entries_paused: bool = False
    halted: bool = False
    flatten_requests: int = 0
    pause_reason: str = ""


@dataclass(frozen=True)
class Tuning:
    """Strategy parameters changed while running, newest value per name.

    ``version`` counts changes, so a stage applies each change once and a
    stage that saw none (version 0) keeps its configured or restored values.
    """

    version: int = 0
    values: Mapping[str, float] = field(default_factory=dict)


class Control:
    """Thread-safe control state; each change returns the state it produced.

    ``pause_file`` (None: nothing persisted) is where the pause outlives the process;
    ``clock`` stamps when a pause began (the operator's time, so the wall clock by default).
    """

    def __init__(self, pause_file: Path | None = None, clock: Clock | None = None) -> None:
        self._clock = clock if clock is not None else WallClock()
        self._lock = threading.Lock()
        self._state = ControlState()
        self._tuning = Tuning()
        self._pause_file = pause_file
        pause = read_pause(pause_file) if pause_file is not None else None
        if pause is not None:
            self._state = ControlState(entries_paused=True, halted=pause.halted, pause_reason=pause.reason)
            since = datetime.fromtimestamp(pause.since_ms / 1000, UTC).isoformat(timespec="seconds")
            _log.warning(f"{'halted' if pause.halted else 'entries paused'} since {since}: {pause.reason} "
                         f"(kept in {pause_file}); entries resume with the API's resume, or the file deleted while stopped",
                         extra={"pause_file": str(pause_file), "since_ms": pause.since_ms})

    def state(self) -> ControlState:
        """Return the current state."""
        with self._lock:
            return self._state

    def entries_allowed(self) -> bool:
        """Return True when the stages may open new positions."""
        with self._lock:
            return not (self._state.entries_paused or self._state.halted)

    def pause_entries(self, reason: str = "paused by the operator") -> ControlState:
        """Stop opening positions; exits and flattening continue. ``reason`` is what the status and a restart say."""
        return self._change(reason)

    def resume_entries(self) -> ControlState:
        """Allow entries again and lift a halt."""
        return self._change("")

    def request_flatten(self) -> ControlState:
        """Ask execution to close every position; entries stay paused until resumed."""
        return self._change("flattened by the operator", flatten=True)

    def halt(self) -> ControlState:
        """Kill switch: pause entries, flatten and stop sending orders until resumed."""
        return self._change("halted by the operator", flatten=True, halted=True)

    def tuning(self) -> Tuning:
        """Return the strategy parameters changed so far."""
        with self._lock:
            return self._tuning

    def retune(self, values: Mapping[str, float]) -> Tuning:
        """Change strategy parameters (already validated by the caller); running spreads take them on their next event."""
        with self._lock:
            self._tuning = Tuning(self._tuning.version + 1, {**self._tuning.values, **values})
            return self._tuning

    def _change(self, reason: str, flatten: bool = False, halted: bool = False) -> ControlState:
        """Pause with ``reason`` ("" resumes), in memory first (it acts at once) then in the pause file.

        A halt stays a halt when a flatten or pause follows it. A pause file that cannot be written
        is one error line: the pause holds in this process, but a restart would not keep it.
        """
        with self._lock:
            state = self._state
            if reason and state.halted and not halted:
                reason, halted = state.pause_reason, True
            self._state = replace(state, entries_paused=bool(reason), halted=halted, pause_reason=reason,
                                  flatten_requests=state.flatten_requests + flatten)
            if self._pause_file is not None:
                try:
                    if reason:
                        write_pause(self._pause_file, Pause(self._state.pause_reason, self._clock.now_ms(), halted))
                    else:
                        clear_pause(self._pause_file)
                except OSError as exc:
                    _log.error(f"pause file {self._pause_file} not {'written' if reason else 'removed'}: {exc}; "
                               "a restart may not start as this process is")
            return self._state
