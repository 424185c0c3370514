"""Dead-letter output: rejected records appended as JSON lines, one file per worker.

A dead letter keeps the raw text of the record, where it came from (topic,
partition, offset) and why it was rejected, so it can be inspected and
replayed by hand. Files are ``<directory>/dead-letters-<worker>.jsonl``; each
batch is flushed to disk before the epoch completes, and a new file's directory
is synced once, so the file itself survives a power loss.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from pairflow.durable_file import make_directories, open_append

__all__ = ["DeadLetterSink", "read_dead_letters"]

_encoder = msgspec.json.Encoder()


class _DeadLetterPartition(StatelessSinkPartition[tuple[str, list[Any]]]):
    def __init__(self, path: Path) -> None:
        make_directories(path.parent)
        self._file = open_append(path)  # closed in close()

    def write_batch(self, items: list[tuple[str, list[Any]]]) -> None:
        self._file.write(b"".join(_encoder.encode(letter) + b"\n" for _, letters in items for letter in letters))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


class DeadLetterSink(DynamicSink[tuple[str, list[Any]]]):
    """Append ``(key, [DeadLetter, ...])`` items to JSON-lines files under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _DeadLetterPartition:
        """Open this worker's file for appending."""
        return _DeadLetterPartition(self.directory / f"dead-letters-{worker_index}.jsonl")


def read_dead_letters(directory: Path) -> list[dict[str, Any]]:
    """Return every dead letter written under ``directory``, as dicts, file by file."""
    letters = []
    for path in sorted(Path(directory).glob("dead-letters-*.jsonl")):
        with open(path, "rb") as handle:
            letters.extend(msgspec.json.decode(line) for line in handle if line.strip())
    return letters
