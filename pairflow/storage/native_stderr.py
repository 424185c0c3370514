"""Catch what native code writes straight to the process's stderr while it runs one call.

Why: chDB's engine reports why it cannot start (another process holds the
directory: "Cannot lock file .../status") by writing to file descriptor 2
from C++, and then raises an exception that says only "Error initializing
EmbeddedServer". The reason therefore reached the user as a stray line
before pairflow's own error line, which lacked it. Caught here, it becomes
part of that one error line; when the call succeeds, whatever was caught is
written to stderr after all, so nothing is hidden.

Examples
--------
>>> with native_stderr() as caught:
...     _ = os.write(2, b"Code: 76. DB::Exception: Cannot lock file x/status.\\n")
...     caught.fold()
'Code: 76. DB::Exception: Cannot lock file x/status.\\n'
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

__all__ = ["Caught", "native_stderr"]


class Caught:
    """Where stderr goes inside the block: `fold` takes what was written for the caller's own error."""

    def __init__(self, sink: IO[bytes]) -> None:
        self._sink = sink
        self.folded = False

    def fold(self) -> str:
        """Return what was written to stderr so far, which is then not written back on leaving."""
        self.folded = True
        return self.text()

    def text(self) -> str:
        """Return what was written to stderr so far."""
        self._sink.seek(0)
        return self._sink.read().decode(errors="replace")


@contextmanager
def native_stderr() -> Iterator[Caught]:
    """Redirect file descriptor 2 into a temporary file for the block.

    The caller must serialize: the descriptor is the whole process's, so
    another thread's stderr output inside the block is caught as well. What
    was caught is written to stderr on leaving unless the caller folded it
    into its own error (`Caught.fold`).
    """
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink:
        caught = Caught(sink)
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield caught
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            text = "" if caught.folded else caught.text()
            if text:
                os.write(2, text.encode())
