"""Observe `pairflow.durable_file.sync_directory` from outside: the directories a block opens read-only.

A power loss cannot be staged in a test, but the step that survives it can be
seen: syncing a directory opens it (``os.open``, which raises the ``open``
audit event with no mode string), and nothing else in pairflow opens a
directory. The hook stays installed (audit hooks cannot be removed) and does
nothing outside `directories_synced`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
