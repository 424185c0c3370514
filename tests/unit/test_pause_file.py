"""The pause file: what a Control writes is what a restarted Control starts from, and a file that is not a pause
(any bytes, a directory, an unreadable file) starts it paused with one reason naming the file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import msgspec
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from pairflow.control import Control
from pairflow.errors import one_line
from pairflow.pause_file import PAUSE_FILE, Pause, read_pause, write_pause


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300) | st.text(max_size=200).map(str.encode)
       | st.dictionaries(st.text(max_size=12), st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                         max_size=4).map(msgspec.json.encode))
def test_any_bytes_read_as_a_pause_the_file_held_or_as_paused_naming_the_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / PAUSE_FILE
        path.write_bytes(data)
        pause = read_pause(path)
        control = Control(pause_file=path)
    assert pause is not None and pause.reason == one_line(pause.reason)
    try:
        written = msgspec.json.decode(data, type=Pause)
    except (msgspec.DecodeError, msgspec.ValidationError):
        assert pause.reason.startswith(f"pause file {path} is unreadable (") and not pause.halted
    else:
        assert pause == msgspec.structs.replace(written, reason=one_line(written.reason) or "no reason given")
    state = control.state()
    assert state.entries_paused and not control.entries_allowed() and state.pause_reason == pause.reason


@settings(max_examples=50, deadline=None)
@given(actions=st.lists(st.sampled_from(["pause", "flatten", "halt", "resume"]), max_size=6))
def test_a_restarted_control_starts_as_the_last_one_stood(actions: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / PAUSE_FILE
        control = Control(pause_file=path)
        do = {"pause": control.pause_entries, "flatten": control.request_flatten, "halt": control.halt,
              "resume": control.resume_entries}
        for action in actions:
            do[action]()
        before, after = control.state(), Control(pause_file=path).state()
        assert sorted(os.listdir(directory)) == ([PAUSE_FILE] if before.entries_paused else [])  # no temporary left
    assert (after.entries_paused, after.halted, after.pause_reason) == (
        before.entries_paused, before.halted, before.pause_reason)
    paused = halted = False  # the model: a halt holds until resumed, a pause or flatten only pauses
    for action in actions:
        paused, halted = action != "resume", action == "halt" or (halted and action != "resume")
    assert (before.entries_paused, before.halted) == (paused, halted)

def test_a_restart_logs_one_line_saying_paused_since_when_and_why(tmp_path: Path) -> None:
    path = tmp_path / PAUSE_FILE
    write_pause(path, Pause(reason="halted by the operator", since_ms=1_764_961_200_000, halted=True))
    with structlog.testing.capture_logs() as logs:
        state = Control(pause_file=path).state()
    assert state.halted and state.entries_paused and state.pause_reason == "halted by the operator"
    (line,) = [log["event"] for log in logs]
    assert line.startswith("halted since 2025-12-05T19:00:00+00:00: halted by the operator") and str(path) in line


def test_a_pause_file_that_cannot_be_read_starts_paused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / PAUSE_FILE
    path.mkdir()  # reading it fails as a file without read permission does (an OSError)
    state = Control(pause_file=path).state()
    assert state.entries_paused and state.pause_reason.startswith(f"pause file {path} is unreadable (")

def test_a_pause_file_that_cannot_be_written_keeps_the_pause_in_memory_with_an_error_line(tmp_path: Path) -> None:
    control = Control(pause_file=tmp_path / "gone" / PAUSE_FILE)
    with structlog.testing.capture_logs() as logs:
        assert control.pause_entries().entries_paused
    (line,) = [log["event"] for log in logs if log["log_level"] == "error"]
    assert line.startswith(f"pause file {tmp_path / 'gone' / PAUSE_FILE} not written")
