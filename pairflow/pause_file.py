"""The operator's pause (or halt) on disk, so a restarted trader starts as paused as it stopped.

Why: an operator who paused entries, flattened or halted expects trading to
stay stopped until they resume it, whatever happens to the process (a crash,
a SIGKILL, a host reboot). The file is written the moment the pause is set
(temporary file, fsync, rename, fsync of the directory: a crash leaves the old
file or the new one, never half of one) and removed on resume. A file that
cannot be read or parsed means paused (fail safe), with the reason naming it:
an unreadable file must never let entries through.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / PAUSE_FILE
>>> read_pause(path) is None
True
>>> write_pause(path, Pause(reason="paused by the operator", since_ms=1_700_000_000_000))
>>> read_pause(path)
Pause(reason='paused by the operator', since_ms=1700000000000, halted=False)
>>> path.write_bytes(b"\\xff")
1
>>> read_pause(path).reason.startswith(f"pause file {path} is unreadable")
True
>>> clear_pause(path); read_pause(path) is None
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec

from pairflow.durable_file import sync_directory, write_bytes
from pairflow.errors import one_line

__all__ = ["PAUSE_FILE", "Pause", "clear_pause", "read_pause", "write_pause"]

PAUSE_FILE = "PAUSED"
"""Name of the pause file in the trader's data directory."""


class Pause(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Why and since when (epoch ms, wall clock) entries are paused; ``halted``: no order at all."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    since_ms: Annotated[int, msgspec.Meta(ge=0)]
    halted: bool = False


def read_pause(path: Path) -> Pause | None:
    """Return the pause ``path`` holds, None when there is no file; a file that is not a pause reads as paused."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Pause(reason=f"pause file {path} is unreadable ({exc.strerror or exc}); paused until resumed",
                     since_ms=_modified_ms(path))
    try:
        pause = msgspec.json.decode(data, type=Pause)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return Pause(reason=f"pause file {path} is unreadable ({one_line(str(exc))}); paused until resumed",
                     since_ms=_modified_ms(path))
    return msgspec.structs.replace(pause, reason=one_line(pause.reason) or "no reason given")


def write_pause(path: Path, pause: Pause) -> None:
    """Write ``pause`` to ``path`` atomically and durably (`pairflow.durable_file`)."""
    write_bytes(path, msgspec.json.encode(pause))


def clear_pause(path: Path) -> None:
    """Remove the pause file durably (a crash after resume must not bring the pause back)."""
    path.unlink(missing_ok=True)
    sync_directory(path.parent)


def _modified_ms(path: Path) -> int:
    try:
        return max(0, int(path.stat().st_mtime * 1000))
    except OSError:
        return 0
