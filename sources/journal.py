"""A durable hand-off between the collector and the ingest flow in one process (embedded mode).

The collector appends every event it emits to a local append-only journal
(`Journal.emit`) with one ``write`` system call per event, so the event is in
the operating system's page cache before the collector moves on: killing the
process, even with SIGKILL, loses nothing already received. That call keeps
the GIL (see `_append`): the flow, on another thread of this process, would
otherwise take it on every event. (A power loss or kernel crash can lose what
the OS had not yet written to disk; the journal does not fsync.) The ingest flow reads the journal as a Bytewax source whose
resume state is the byte offset after the last record handed on, so with
``--recovery-dir`` a restarted process reads again from the last completed
epoch, as the Kafka source does from a topic; stored rows carry stable ids,
so what is read twice collapses.

Layout: segment files ``<offset>.journal`` in one directory, named by the
offset of their first byte, each record one line ``<topic>\\t<event JSON>\\n``.
A new segment starts once the current one passes `SEGMENT_BYTES`. Segments
wholly before the offset of the previous snapshot are deleted as the
flow moves on (a resume never goes back further). On open, a record torn by a
kill in the middle of a write is cut off.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from pairflow.events import TOPIC_OF, Event, Trade, decoder, encode
from pairflow.logs import get_logger
from pairflow.metrics import JOURNAL_BYTES_WRITTEN
from sources.gaps import LastTrade, newest
from sources.progress import ProgressReport

__all__ = ["SEGMENT_BYTES", "Journal"]

SEGMENT_BYTES = 16 << 20
_READ_BYTES = 4 << 20
_IDLE_WAIT = timedelta(milliseconds=5)
_SUFFIX = ".journal"
# The byte counter is moved on per this much written, not per event: its own lock cost the collector about a
# sixth of an append. A rate over a minute does not see the difference; the rest is counted at close.
_REPORT_BYTES = 16 << 10
_TRADES = TOPIC_OF[Trade].encode()

_log = get_logger(__name__)

# write(2) called through a PyDLL keeps the GIL, which os.write gives up for the call. The collector appends one
# small record per event while the flow thread wants the GIL, so giving it up per event handed it to the flow and
# back twice an event: on two cores that cost the collector about 8 µs an event, four times the append itself.
_libc_write = ctypes.PyDLL(None, use_errno=True).write
_libc_write.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t)
_libc_write.restype = ctypes.c_ssize_t

Record = tuple[str, bytes, None, int]


def _append(fd: int, record: bytes) -> None:
    """Write ``record`` to ``fd`` in one system call without giving up the GIL; raise `OSError` as os.write does.

    A call a signal interrupted before it wrote anything is made again, as os.write does (PEP 475).
    """
    written = _libc_write(fd, record, len(record))
    while written < 0 and ctypes.get_errno() == errno.EINTR:
        written = _libc_write(fd, record, len(record))
    if written < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    if written != len(record):
        raise OSError(f"journal append wrote {written} of {len(record)} bytes (is the disk full?)")


def _segments(directory: Path) -> list[tuple[int, Path]]:
    found = []
    for path in directory.glob(f"*{_SUFFIX}"):
        stem = path.name[: -len(_SUFFIX)]
        if stem.isdigit():
            found.append((int(stem), path))
    return sorted(found)


def _segment_path(directory: Path, offset: int) -> Path:
    return directory / f"{offset:020d}{_SUFFIX}"


class _Reader(StatefulSourcePartition[Record, int]):
    def __init__(self, directory: Path, offset: int, closed: threading.Event, batch_bytes: int,
                 progress: ProgressReport | None) -> None:
        self._directory = directory
        self._progress = progress
        self._closed = closed
        self._batch_bytes = batch_bytes
        self._offset = offset
        self._snapshots: list[int] = [offset]
        self._next_awake: datetime | None = None
        self._base, self._file = -1, None
        # Topic names as read, decoded once each: a journal holds a handful of topics.
        self._names: dict[bytes, str] = {}
        _delete_before(directory, offset)

    def next_batch(self) -> list[Record]:
        if not self._open_segment_at(self._offset):
            return self._idle()
        assert self._file is not None
        self._file.seek(self._offset - self._base)
        chunk = self._file.read(self._batch_bytes)
        end = chunk.rfind(b"\n") + 1
        if end == 0:
            if self._has_newer_segment() and len(chunk) == 0:
                self._offset = self._next_segment_start()
                return []
            return self._idle()
        batch = []
        offset = self._offset
        names = self._names
        for line in chunk[:end].splitlines():
            topic, _, payload = line.partition(b"\t")
            name = names.get(topic)
            if name is None:
                name = names[topic] = topic.decode("utf-8", errors="replace")
            batch.append((name, payload, None, offset))
            offset += len(line) + 1
        self._offset = offset
        self._next_awake = None
        return self._progress.add(batch, False) if self._progress is not None else batch

    def next_awake(self) -> datetime | None:
        return self._next_awake

    def snapshot(self) -> int:
        self._snapshots = [*self._snapshots[-1:], self._offset]
        _delete_before(self._directory, self._snapshots[0])
        return self._offset

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def _idle(self) -> list[Record]:
        if self._closed.is_set() and not self._has_newer_segment() and self._at_end():
            raise StopIteration
        self._next_awake = datetime.now(timezone.utc) + _IDLE_WAIT
        return self._progress.add([], True) if self._progress is not None else []

    def _at_end(self) -> bool:
        segments = _segments(self._directory)
        if not segments:
            return True
        base, path = segments[-1]
        return self._offset >= base + path.stat().st_size

    def _open_segment_at(self, offset: int) -> bool:
        segments = [(base, path) for base, path in _segments(self._directory) if base <= offset]
        if not segments:
            return False
        base, path = segments[-1]
        if base != self._base:
            if self._file is not None:
                self._file.close()
            self._base, self._file = base, path.open("rb")
        return True

    def _has_newer_segment(self) -> bool:
        return any(base > self._base for base, _ in _segments(self._directory))

    def _next_segment_start(self) -> int:
        return min(base for base, _ in _segments(self._directory) if base > self._base)


def _delete_before(directory: Path, offset: int) -> None:
    """Delete the segments that end at or before ``offset``: nothing will read them again."""
    segments = _segments(directory)
    for (_, path), (next_base, _) in zip(segments, segments[1:]):
        if next_base <= offset:
            path.unlink(missing_ok=True)


class Journal(FixedPartitionedSource[Record, int]):
    """The collector's ``emit`` target and the flow's source, over one journal directory.

    Items enter the dataflow as ``(topic, JSON bytes, None, offset)``, the
    shape of the Kafka source's records, and are decoded by the flow.

    Parameters
    ----------
    directory
        Where the segments live; created if missing. Keep it with the
        recovery directory: the two describe one position.
    segment_bytes
        Size after which a new segment starts.
    batch_bytes
        Most bytes read per poll of the flow.
    report_progress
        Add a `sources.progress.ReadProgress` record when the reader reaches
        the end of what was written and when records wait again (the ingest
        stage's input: replaying a backlog never closes bars on the clock).
    """

    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES, batch_bytes: int = _READ_BYTES,
                 report_progress: bool = False) -> None:
        self.directory = Path(directory)
        self._report_progress = report_progress
        self.directory.mkdir(parents=True, exist_ok=True)
        self._segment_bytes = segment_bytes
        self._batch_bytes = batch_bytes
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._prefixes: dict[str, bytes] = {}
        # Bytes appended but not yet counted in JOURNAL_BYTES_WRITTEN (see `_REPORT_BYTES`).
        self._unreported = 0
        segments = _segments(self.directory)
        if segments:
            self._base, path = segments[-1]
            self._size = _cut_torn_record(path)
        else:
            self._base, self._size = 0, 0
        self._fd = os.open(_segment_path(self.directory, self._base), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def emit(self, topic: str, key: str, event: Event) -> None:
        """Append one event; matches the collector's ``emit`` callable (``key`` is implied by the event)."""
        prefix = self._prefixes.get(topic)
        if prefix is None:
            prefix = self._prefixes[topic] = topic.encode() + b"\t"
        record = b"%s%s\n" % (prefix, encode(event))
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the journal is closed; no more events can be emitted")
            if self._size >= self._segment_bytes:
                self._roll()
            _append(self._fd, record)
            self._size += len(record)
            self._unreported += len(record)
            if self._unreported < _REPORT_BYTES:
                return
            unreported, self._unreported = self._unreported, 0
        JOURNAL_BYTES_WRITTEN.inc(unreported)

    def close(self) -> None:
        """Mark the end of input: the flow finishes once it has read everything written."""
        with self._lock:
            if not self._closed.is_set():
                self._closed.set()
                os.close(self._fd)
                JOURNAL_BYTES_WRITTEN.inc(self._unreported)
                self._unreported = 0

    def last_trades(self, coins: Iterable[str]) -> dict[str, LastTrade]:
        """Return, per coin, the newest trades in the journal (every id at the newest time)."""
        wanted = set(coins)
        found: dict[str, LastTrade] = {}
        trades = decoder(Trade)
        for _, path in _segments(self.directory):
            with path.open("rb") as segment:
                for line in segment:
                    topic, _, payload = line.rstrip(b"\n").partition(b"\t")
                    if topic != _TRADES:
                        continue
                    try:
                        trade = trades.decode(payload)
                    except msgspec.DecodeError:  # the flow dead-letters it; it delivered no trade
                        continue
                    if trade.coin in wanted:
                        found = newest(found, {trade.coin: LastTrade(trade.ts, frozenset((trade.id,)))})
        return found

    def list_parts(self) -> list[str]:
        """One partition: the journal is read in order by one worker."""
        return ["journal"]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _Reader:
        """Read from the resumed offset, or from the start of the journal."""
        segments = _segments(self.directory)
        start = resume_state if resume_state is not None else (segments[0][0] if segments else 0)
        progress = ProgressReport("journal", None) if self._report_progress else None
        return _Reader(self.directory, start, self._closed, self._batch_bytes, progress)

    def _roll(self) -> None:
        os.close(self._fd)
        self._base += self._size
        self._size = 0
        self._fd = os.open(_segment_path(self.directory, self._base), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        _log.info("journal segment started", offset=self._base)


def _cut_torn_record(path: Path) -> int:
    """Truncate ``path`` after its last complete record and return its size."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        _log.warning("journal: cut a record torn by a kill", segment=path.name, bytes=len(data) - end)
        with path.open("r+b") as segment:
            segment.truncate(end)
    return end
