"""Atomic snapshots of the venue state (engine, server nonces, market driver) in a data directory.

File layout: an 8-byte magic, the SHA-256 of the payload, then the pickled
payload. A save replaces the snapshot atomically and durably
(`pairflow.durable_file`: a temporary file in the same directory, fsynced,
renamed over it, the directory fsynced), so a crash leaves either the old or
the new snapshot, never a torn one. A snapshot that fails
its checksum or does not unpickle is moved aside (never overwritten) and
reported with a one-line `SnapshotError`.

Snapshots are pickles: load only snapshots this venue wrote.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairflow.durable_file import write_bytes
from pairflow.errors import PairflowError

__all__ = ["SNAPSHOT_NAME", "SnapshotError", "SnapshotStore", "VenueState"]

SNAPSHOT_NAME = "venue.snapshot"
_MAGIC = b"PFVENUE1"
_DIGEST_SIZE = 32


class SnapshotError(PairflowError):
    """A snapshot could not be read; the message is one line naming the file and the cause."""

    exit_code = 2  # the --data-dir given cannot be started from: a usage error, not a crash


@dataclass
class VenueState:
    """Everything restored after a restart: the engine, the server's nonce tracker and the driver."""

    engine: Any
    nonces: Any = None
    driver: Any = None
    saved_at_ms: int = 0


class SnapshotStore:
    """Read and atomically write the venue snapshot in `data_dir`.

    Parameters
    ----------
    data_dir
        Directory holding the snapshot; created when missing.
    name
        File name of the snapshot inside `data_dir`.
    """

    def __init__(self, data_dir: Path, name: str = SNAPSHOT_NAME) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / name

    def check_writable(self) -> None:
        """Create the directory and write a probe file, so an unusable directory fails at start, not at the first save.

        Raises
        ------
        SnapshotError
            Naming the directory and the operating system's reason.
        """
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.data_dir):
                pass
        except OSError as error:
            raise SnapshotError(f"venue data dir {self.data_dir} is not writable: {error.strerror or error}") from None

    def encode(self, state: VenueState) -> bytes:
        """Return the bytes of a snapshot of `state` (call under the engine lock for consistency)."""
        payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        return _MAGIC + hashlib.sha256(payload).digest() + payload

    def write(self, blob: bytes) -> Path:
        """Atomically replace the snapshot with `blob` (from `encode`) and return its path."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_bytes(self.path, blob)
        return self.path

    def save(self, state: VenueState) -> Path:
        """Encode and write `state` in one call."""
        return self.write(self.encode(state))

    def load(self) -> VenueState | None:
        """Return the saved state, or None when there is no snapshot yet.

        Raises
        ------
        SnapshotError
            The snapshot is corrupt; it has been renamed to ``<name>.corrupt-<epoch>``.
        """
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise SnapshotError(f"venue snapshot {self.path} could not be read: {error.strerror}") from None
        reason = _problem(blob)
        state = None
        if reason is None:
            try:
                state = pickle.loads(blob[len(_MAGIC) + _DIGEST_SIZE :])
            except Exception as error:  # any unpickling failure means the file is unusable
                reason = f"it does not unpickle ({type(error).__name__}: {error})"
            else:
                if not isinstance(state, VenueState):
                    reason = f"it holds a {type(state).__name__}, not a venue state"
        if reason is not None:
            aside = self._move_aside()
            raise SnapshotError(
                f"venue snapshot {self.path} is corrupt: {reason}; it was moved to {aside} "
                "and left untouched, start again to begin with a fresh venue"
            )
        return state

    def _move_aside(self) -> Path:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        counter = 0
        while aside.exists():
            counter += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}-{counter}")
        os.replace(self.path, aside)
        return aside


def _problem(blob: bytes) -> str | None:
    if len(blob) < len(_MAGIC) + _DIGEST_SIZE:
        return f"it is truncated ({len(blob)} bytes)"
    if not blob.startswith(_MAGIC):
        return "it does not start with the venue snapshot header"
    digest = blob[len(_MAGIC) : len(_MAGIC) + _DIGEST_SIZE]
    if hashlib.sha256(blob[len(_MAGIC) + _DIGEST_SIZE :]).digest() != digest:
        return "its checksum does not match (truncated or modified)"
    return None
