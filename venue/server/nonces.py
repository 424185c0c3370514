"""Per-signer nonce bookkeeping with Hyperliquid's rules.

The exchange keeps the 100 highest nonces seen per signer (the agent address
when an agent signs). A new nonce must be unused, greater than the smallest
kept nonce once 100 are kept, and inside ``(T - 2 days, T + 1 day)`` where T is
the exchange time in milliseconds.
"""

from __future__ import annotations

import heapq
import threading
from typing import Any

__all__ = ["NonceError", "NonceTracker"]

KEPT_PER_SIGNER = 100
MAX_AGE_MS = 2 * 24 * 3600 * 1000
MAX_LEAD_MS = 24 * 3600 * 1000


class NonceError(Exception):
    """Raised with the exact exchange error string when a nonce is rejected."""


class NonceTracker:
    """Accept each signer's nonces at most once, within the exchange's window.

    The tracker pickles (without its lock) so the venue can persist it next to
    the engine and restore it after a restart.

    Parameters
    ----------
    kept_per_signer
        How many of the highest nonces are kept per signer.
    """

    def __init__(self, kept_per_signer: int = KEPT_PER_SIGNER) -> None:
        self.kept_per_signer = kept_per_signer
        self._kept: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def use(self, signer: str, nonce: int, now_ms: int) -> None:
        """Record ``nonce`` for ``signer`` or raise `NonceError` without recording anything.

        Parameters
        ----------
        signer
            Address that signed the action (case-insensitive).
        nonce
            The request's nonce in milliseconds.
        now_ms
            Exchange time in milliseconds.
        """
        signer = signer.lower()
        with self._lock:
            heap = self._kept.get(signer)
            if heap is not None and nonce in heap:
                raise NonceError(f"Invalid nonce: duplicate nonce {nonce}")
            lowest_allowed = now_ms - MAX_AGE_MS
            if nonce <= lowest_allowed:
                raise NonceError(f"Invalid nonce: nonce too low {nonce} < {lowest_allowed}")
            if heap is not None and len(heap) >= self.kept_per_signer and nonce <= heap[0]:
                raise NonceError(f"Invalid nonce: nonce too low {nonce} < {heap[0]}")
            highest_allowed = now_ms + MAX_LEAD_MS
            if nonce >= highest_allowed:
                raise NonceError(f"Invalid nonce: nonce too high {nonce} > {highest_allowed}")
            if heap is None:
                heap = self._kept[signer] = []
            heapq.heappush(heap, nonce)
            if len(heap) > self.kept_per_signer:
                heapq.heappop(heap)

    def kept(self, signer: str) -> list[int]:
        """Return the nonces kept for ``signer``, ascending."""
        with self._lock:
            return sorted(self._kept.get(signer.lower(), ()))

    def __getstate__(self) -> dict[str, Any]:
        with self._lock:
            return {"kept_per_signer": self.kept_per_signer, "kept": {k: list(v) for k, v in self._kept.items()}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.kept_per_signer = state["kept_per_signer"]
        self._kept = {k: list(v) for k, v in state["kept"].items()}
        for heap in self._kept.values():
            heapq.heapify(heap)
        self._lock = threading.Lock()
