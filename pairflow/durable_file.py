"""Replace a file atomically and durably: after a crash it holds the old content or the new, never a mix.

Why: the operator's pause file, the store's spill files, the alert outbox and
its ledger, the venue snapshot, a new keystore, a rendered Alertmanager
config, a backup's manifest and the exported dashboards must each read back
after a crash or a power loss exactly as last written. Getting that right takes four steps, and leaving one out loses data
only on the day the machine fails:

1. write a temporary file in the target's own directory (a rename is atomic
   only within one file system);
2. fsync it, so its bytes are on the disk before any name points at them;
3. ``os.replace`` it over the target (atomic: readers see the old file or the new);
4. fsync the directory, so the rename itself survives a power loss.

A write that fails or raises part-way removes the temporary file and leaves
the target as it was. The temporary name is hidden, unique per process and
call, and ends in ``.tmp``, so concurrent writers never share one and
directory scans by suffix never see it. The new file gets the permissions
``open()`` would give (0o666 less the umask) unless a caller asks for fewer.

A writer killed mid-write (SIGKILL, an OOM kill) cannot remove its
temporary, so the first write of a process into a directory removes those
left there by writers that no longer run: one whose PID is not running and
whose file lock (held by a writer for its whole write, released by the OS
when it dies) is free. The lock keeps a live writer's temporary even when its
PID means nothing here (another PID namespace sharing the directory).

A file only ever appended to and fsynced after each write needs the last
step alone, once, when it is created: `open_append`; and when its directory
is new too, that directory's own entry: `make_directories`. `AppendLog` is
such a file of lines written ahead of the actions they record (the cloid and
spread journals), fsynced after each line or not, by one setting.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "state"
>>> write_bytes(path, b"first")
>>> def torn(out):
...     out.write(b"half of the second")
...     raise RuntimeError("stopped mid-write")
>>> replace_file(path, torn)
Traceback (most recent call last):
RuntimeError: stopped mid-write
>>> path.read_bytes(), sorted(p.name for p in path.parent.iterdir())
(b'first', ['state'])
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pairflow.processes import running

__all__ = ["AppendLog", "make_directories", "open_append", "replace_file", "sync_directory", "write_bytes"]

_CALLS = itertools.count()
_TEMPORARY = re.compile(r"\..+\.(?P<pid>[0-9]{1,7})-[0-9]+\.tmp")  # Linux PIDs have at most 7 digits
# Directories this process has swept of dead writers' temporaries: once each is enough.
_SWEPT: set[Path] = set()


def write_bytes(path: Path, data: bytes, *, mode: int = 0o666) -> None:
    """Replace ``path`` with ``data`` atomically and durably (see the module docstring and `replace_file`)."""
    replace_file(path, lambda out: out.write(data), mode=mode)


def replace_file(path: Path, write: Callable[[BinaryIO], object], *, mode: int = 0o666) -> None:
    """Replace ``path`` with what ``write`` writes to the open binary file it is handed, atomically and durably.

    ``write`` can stream a large content instead of joining it in memory
    first. Whatever it raises propagates, and the target is left untouched.
    ``mode`` is the new file's permissions less the umask (0o600 for a
    secret: the file never exists readable by others, not even briefly).

    Raises
    ------
    FileNotFoundError
        ``path``'s directory does not exist (the error's filename is that directory).
    OSError
        The disk refused the write, the sync or the rename.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{next(_CALLS)}.tmp")
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except FileNotFoundError:
        if path.parent.is_dir():
            raise
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path.parent)) from None
    try:
        with open(handle, "wb") as out:
            fcntl.flock(out, fcntl.LOCK_EX)  # this write is running: `_remove_stale_temporaries` keeps its file
            _remove_stale_temporaries(path.parent)
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the write's own error is the one to report
            temporary.unlink(missing_ok=True)
        raise
    sync_directory(path.parent)


def open_append(path: Path) -> BinaryIO:
    """Open ``path`` for binary appending, creating it durably: fsync its directory while the file is empty.

    Why: an append-only file (the order journal, dead letters, the alert
    outbox) fsynced after each write keeps its bytes over a power loss, but
    not its name until its directory is fsynced too: a new journal could
    vanish whole with every cloid it had reported written. The directory is
    synced when the file is empty rather than only when this call creates
    it, so a process killed between the creation and the sync has it synced
    by the next opener before anything is appended.

    Raises
    ------
    OSError
        The file cannot be opened or created, or its directory synced.
    """
    path = Path(path)
    out = open(path, "ab")  # noqa: SIM115 - the caller owns (and closes) the file
    try:
        if os.fstat(out.fileno()).st_size == 0:
            sync_directory(path.parent)
    except BaseException:
        out.close()
        raise
    return out


class AppendLog:
    """A file of lines appended ahead of what they record, created durably; ``written`` is what it held at open.

    Why: the router's cloid journal and the desk's spread journal are read back
    together on restart (the spread changes explain the cloids), so both must
    outlive the same failures: with ``fsync`` each line is on the disk before
    `append` returns (a power loss keeps it), without it in the OS (a kill of
    the process keeps it). Opening ends a torn last line (a writer killed
    mid-line) so the next line is not joined to it and lost; ``written`` keeps
    it unended, so a reader that drops what follows the last newline skips the
    torn part, whose action never happened. Not thread-safe: a caller appending
    from several threads holds its own lock around `append` and its state.

    Raises
    ------
    OSError
        The file or its directory cannot be created, read or synced.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "new" / "log"
    >>> log = AppendLog(path, fsync=True); log.append(b"first"); log.close()
    >>> with path.open("ab") as torn:
    ...     _ = torn.write(b"fir")
    >>> log = AppendLog(path); log.append(b"second"); log.close()
    >>> AppendLog(path).written.split(b"\\n")
    [b'first', b'fir', b'second', b'']
    """

    def __init__(self, path: Path, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        make_directories(self.path.parent)
        self._file = open_append(self.path)
        try:
            self.written = self.path.read_bytes()
            if self.written and not self.written.endswith(b"\n"):
                self._file.write(b"\n")
                self._file.flush()
        except BaseException:
            self._file.close()
            raise

    def append(self, line: bytes) -> None:
        """Hand ``line`` (without its newline) to the OS, and with ``fsync`` to the disk."""
        self._file.write(line + b"\n")
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def make_directories(directory: Path) -> None:
    """Create ``directory`` and its missing parents, fsyncing the parent of each one created.

    Why: a file synced into a new directory is lost with that directory if a
    power loss takes the directory's own name; an append-only journal in a
    directory created on first run would vanish whole with what it held.
    An existing directory costs no sync.

    Raises
    ------
    OSError
        A component exists and is not a directory, or the disk refused.
    """
    missing = []
    directory = Path(directory)
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True)  # another process may create it meanwhile
        sync_directory(created.parent)


def _remove_stale_temporaries(directory: Path) -> None:
    directory = Path(os.path.abspath(directory))
    if directory in _SWEPT:
        return
    _SWEPT.add(directory)
    with contextlib.suppress(OSError), os.scandir(directory) as entries:  # one that cannot be listed is left
        for entry in entries:
            match = _TEMPORARY.fullmatch(entry.name)
            if match and int(match["pid"]) != os.getpid() and not running(int(match["pid"])):
                _remove_unlocked(entry.path)


def _remove_unlocked(temporary: str) -> None:
    try:
        handle = os.open(temporary, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # removed meanwhile, or not a file we may open
        return
    try:
        with contextlib.suppress(OSError):  # its writer still runs (it holds the lock), or it is gone already
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(temporary)
    finally:
        os.close(handle)


def sync_directory(directory: Path) -> None:
    """Fsync ``directory``, so a rename, creation or removal of one of its entries survives a power loss."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
