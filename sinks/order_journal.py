"""A write-ahead journal of the cloids the router has sent, so a restart never sends one twice.

The cloid is written to the OS *before* its order goes out: after the
process dies (SIGKILL included) every order that may have reached the
exchange is in the journal, and a replayed signal with the same cloid is recognised and skipped
-- the venue, like Hyperliquid, would otherwise accept a second order with a
cloid it has already filled. Beside each cloid is its order's ``expiresAfter``
(ms): a request still on its way after a kill is refused by the exchange once
that time has passed, which is when a restart may send again an order the
exchange, asked by cloid, says it never received (`operators.orders.may_resend`).
A torn last line (killed mid-write) is ignored: its order was never sent. ``fsync=True``
(``[execution] journal_fsync``, which the spread journal beside it follows) also
survives a machine crash or power loss, at about 2 ms per order on a shared
VM disk (benchmarks/bench_execution.py), which is why it is not the default.
"""

from __future__ import annotations

import threading
from pathlib import Path

from pairflow.durable_file import AppendLog

__all__ = ["OrderJournal"]


class OrderJournal:
    """Append-only file of sent cloids, one per line with its expiry; `sent` and `expires` answer from memory.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "cloids"
    >>> cloid = "0x" + "ab" * 16
    >>> journal = OrderJournal(path); journal.record(cloid, 1_700_000_010_000); journal.close()
    >>> cloid in OrderJournal(path).sent, OrderJournal(path).expires[cloid]
    (True, 1700000010000)
    """

    def __init__(self, path: Path, fsync: bool = False) -> None:
        self._log = AppendLog(path, fsync)  # a new journal's name survives a power loss too
        self.path = self._log.path
        self.fsync = fsync
        self.sent: set[str] = set()
        self.expires: dict[str, int] = {}
        for line in self._log.written.decode("ascii", errors="replace").split("\n")[:-1]:
            cloid, _, expires = line.partition(" ")
            if cloid.startswith("0x") and len(cloid) == 34:
                self.sent.add(cloid)
                if expires.isdigit():  # lines written before expiries have none: such orders never expire
                    self.expires[cloid] = int(expires)
        self._lock = threading.Lock()

    def record(self, cloid: str, expires_ms: int | None = None) -> None:
        """Hand ``cloid`` and its order's ``expiresAfter`` to the OS (with ``fsync`` to the disk) before the send."""
        with self._lock:
            self._log.append((cloid if expires_ms is None else f"{cloid} {expires_ms}").encode("ascii"))
            self.sent.add(cloid)
            if expires_ms is not None:
                self.expires[cloid] = expires_ms

    def forget(self, cloid: str) -> None:
        """Let ``cloid`` be sent again: the exchange, asked by cloid after the order's expiry, never received it.

        Only in memory: the line stays, and a later restart finds the order on the exchange once sent.
        """
        with self._lock:
            self.sent.discard(cloid)

    def close(self) -> None:
        """Close the file."""
        self._log.close()
