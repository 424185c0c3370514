"""Observe what pairflow syncs to the disk from outside: the directories (`directories_synced`) and files (`files_synced`).

A power loss cannot be staged in a test, but the step that survives it can be
seen: syncing a directory opens it (``os.open``, which raises the ``open``
audit event with no mode string), and nothing else in pairflow opens a
directory. The hook stays installed (audit hooks cannot be removed) and does
nothing outside `directories_synced`. ``os.fsync`` raises no audit event, so
`files_synced` wraps it for its block (the real sync still runs).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

_recording: list[list[Path]] = []


def _hook(event: str, args: tuple) -> None:
    if event == "open" and _recording and args[1] is None and os.path.isdir(args[0]):
        _recording[-1].append(Path(os.fsdecode(args[0])))


sys.addaudithook(_hook)


@contextmanager
def directories_synced() -> Iterator[list[Path]]:
    """Yield the list of the directories opened to be synced inside the block, filled as they are."""
    opened: list[Path] = []
    _recording.append(opened)
    try:
        yield opened
    finally:
        _recording.pop()


@contextmanager
def files_synced(on_sync: Callable[[Path], object] = lambda path: None) -> Iterator[list[Path]]:
    """Yield the list of the regular files fsynced inside the block (any thread), each once its sync returned.

    ``on_sync`` is called with each such file as it is added, so a test can note what else had happened by then.
    """
    synced: list[Path] = []
    real = os.fsync

    def fsync(file: int | IO) -> None:
        real(file)
        descriptor = file if isinstance(file, int) else file.fileno()
        if stat.S_ISREG(os.fstat(descriptor).st_mode):
            path = Path(os.readlink(f"/proc/self/fd/{descriptor}"))
            synced.append(path)
            on_sync(path)

    os.fsync = fsync
    try:
        yield synced
    finally:
        os.fsync = real
