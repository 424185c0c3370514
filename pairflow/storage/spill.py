"""Local spill files holding batches the store could not take, until they are replayed.

A batch is one msgpack file ``<spill_dir>/<table>/<time>-<pid>-<seq>.spill``
with its column names and columns. Files are written atomically and durably
(`pairflow.durable_file`), so a crash never leaves a half-written batch behind. A replaying
writer first renames a file to ``*.claim-<pid>`` so two writers (threads or
processes) never insert the same file twice; claims of dead processes are
released on start-up.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from pairflow.durable_file import write_bytes
from pairflow.errors import StorageError
from pairflow.processes import running

__all__ = ["Batch", "SpillDirectory"]

_SUFFIX = ".spill"
_CLAIM = ".claim-"
_SEQUENCE = itertools.count()


@dataclass
class Batch:
    """Column-oriented rows bound for one table."""

    table: str
    column_names: list[str]
    columns: list[Sequence[Any]]
    rows: int

    def halves(self) -> tuple[Batch, Batch]:
        """Split into two batches (used to isolate rejected rows)."""
        middle = self.rows // 2
        return (
            Batch(self.table, self.column_names, [column[:middle] for column in self.columns], middle),
            Batch(self.table, self.column_names, [column[middle:] for column in self.columns], self.rows - middle),
        )


class _SpillRecord(msgspec.Struct, array_like=True):
    table: str
    column_names: list[str]
    columns: list[list[Any]]
    rows: int


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_SpillRecord)


class SpillDirectory:
    """The spill files of one table."""

    def __init__(self, root: Path, table: str) -> None:
        self.path = Path(root) / table
        self.table = table

    @property
    def rejected_path(self) -> Path:
        """Return the directory of rows the store rejected; they are kept for inspection, never replayed."""
        return self.path / "rejected"

    def save(self, batch: Batch) -> Path:
        """Write a batch durably for replay; raise StorageError (nothing written) when the disk refuses."""
        return self._write(batch, self.path)

    def save_rejected(self, batch: Batch) -> Path:
        """Write rows the store rejected to `rejected_path`; raise StorageError when the disk refuses."""
        return self._write(batch, self.rejected_path)

    def _write(self, batch: Batch, directory: Path) -> Path:
        columns = [_as_list(column) for column in batch.columns]
        record = _SpillRecord(batch.table, batch.column_names, columns, batch.rows)
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(_SEQUENCE):06d}{_SUFFIX}"
        final = directory / name
        try:
            directory.mkdir(parents=True, exist_ok=True)
            write_bytes(final, _encoder.encode(record))
        except OSError as error:
            raise StorageError(
                f"cannot spill {batch.rows} rows of {batch.table} to {directory}: {error.strerror or error};"
                " rows are kept in memory"
            ) from error
        return final

    def pending(self) -> list[Path]:
        """Return unclaimed spill files, oldest first."""
        if not self.path.is_dir():
            return []
        return sorted(self.path.glob(f"*{_SUFFIX}"))

    def claimed(self) -> Iterator[tuple[Path, Batch]]:
        """Yield spill files claimed by this process, with their batches; oldest first."""
        for path in self.pending():
            claim = path.with_name(f"{path.name}{_CLAIM}{os.getpid()}")
            try:
                os.rename(path, claim)
            except FileNotFoundError:
                continue
            try:
                record = _decoder.decode(claim.read_bytes())
            except (OSError, msgspec.DecodeError) as error:
                os.rename(claim, path)
                raise StorageError(f"spill file {path} cannot be read: {error}") from error
            yield claim, Batch(record.table, record.column_names, record.columns, record.rows)

    def release(self, claim: Path) -> None:
        """Return a claimed file to the pending set (its insert failed)."""
        os.rename(claim, claim.with_name(claim.name.split(_CLAIM)[0]))

    def done(self, claim: Path) -> None:
        """Delete a claimed file whose rows are now in the store."""
        claim.unlink(missing_ok=True)

    def release_stale_claims(self) -> int:
        """Release claims left by processes that no longer run; return how many."""
        if not self.path.is_dir():
            return 0
        released = 0
        for claim in self.path.glob(f"*{_SUFFIX}{_CLAIM}*"):
            pid = int(claim.name.rsplit(_CLAIM, 1)[1])
            if not running(pid):
                self.release(claim)
                released += 1
        return released


def _as_list(column: Sequence[Any]) -> list[Any]:
    to_list = getattr(column, "tolist", None)
    return to_list() if to_list is not None else list(column)

