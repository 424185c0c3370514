"""A write-ahead journal of the cloids the router has sent, so a restart never sends one twice.

The cloid is written to the OS *before* its order goes out: after the
process dies (SIGKILL included) every order that may have reached the
exchange is in the journal, and a replayed signal with the same cloid is recognised and skipped
-- the venue, like Hyperliquid, would otherwise accept a second order with a
cloid it has already filled. Cloids the journal holds whose fate is not
known are resolved by ``orderStatus`` at start. A torn last line (killed
mid-write) is ignored: its order was never sent. ``fsync=True`` also
survives a machine crash or power loss, at about 2 ms per order on a shared
VM disk (benchmarks/bench_execution.py), which is why it is not the default.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

__all__ = ["OrderJournal"]


class OrderJournal:
    """Append-only file of sent cloids, one per line; `sent` answers from memory.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "cloids"
    >>> cloid = "0x" + "ab" * 16
    >>> journal = OrderJournal(path); journal.record(cloid); journal.close()
    >>> cloid in OrderJournal(path).sent
    True
    """

    def __init__(self, path: Path, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.sent: set[str] = set()
        text = ""
        if self.path.exists():
            text = self.path.read_text(encoding="ascii", errors="replace")
            lines = text.split("\n")
            self.sent = {line for line in lines[:-1] if line.startswith("0x") and len(line) == 34}
        self._file = self.path.open("a", encoding="ascii")
        if self.path.stat().st_size and not text.endswith("\n"):
            self._file.write("\n")  # end a torn last line: the next cloid must not join it and be lost
            self._file.flush()
        self._lock = threading.Lock()

    def record(self, cloid: str) -> None:
        """Hand ``cloid`` to the OS (and with ``fsync`` to the disk) before its order is sent."""
        with self._lock:
            self._file.write(cloid + "\n")
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
            self.sent.add(cloid)

    def forget(self, cloid: str) -> None:
        """Let ``cloid`` be sent again: the exchange, asked by cloid, never received it (killed before the send).

        Only in memory: the line stays, and a later restart finds the order on the exchange once sent.
        """
        with self._lock:
            self.sent.discard(cloid)

    def close(self) -> None:
        """Close the file."""
        self._file.close()
