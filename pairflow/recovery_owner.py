"""Which command owns a Bytewax recovery directory: one marker file, written when the directory is first used.

Why: a recovery directory holds one dataflow's source offsets and operator
snapshots under that flow's step ids. Bytewax resumes from whatever it finds,
so an ingest directory handed to the strategy (or to the ingest of another
mode) starts that flow from another flow's epochs and offsets, silently. The
marker names the command that first used the directory; any other command is
refused with both names. A directory written before markers existed has none:
its first user adopts it, so existing deployments keep resuming.

>>> import tempfile
>>> directory = Path(tempfile.mkdtemp())
>>> claim(directory, "pairflow run ingest")
>>> claim(directory, "pairflow run ingest")
>>> claim(directory, "pairflow run strategy")  # doctest: +ELLIPSIS
Traceback (most recent call last):
pairflow.errors.ConfigError: --recovery-dir ... belongs to 'pairflow run ingest' (...), not to 'pairflow run strategy': give each stage its own directory
"""

from __future__ import annotations

from pathlib import Path

from pairflow.durable_file import write_bytes
from pairflow.errors import ConfigError

__all__ = ["OWNER_FILE", "claim"]

OWNER_FILE = "owner"


def claim(directory: Path, owner: str) -> None:
    """Record ``owner`` as the user of ``directory`` on first use, or check that it is the one recorded.

    The caller holds the directory's lock (the processes of one cluster
    share a directory and may start together); the marker is written
    atomically (`pairflow.durable_file`), so a crash leaves it whole or absent.

    Raises
    ------
    ConfigError
        The marker names another owner, or cannot be read as one.
    """
    marker = Path(directory) / OWNER_FILE
    try:
        recorded = marker.read_bytes()
    except FileNotFoundError:
        write_bytes(marker, owner.encode())
        return
    try:
        found = recorded.decode().strip()
    except UnicodeDecodeError:
        raise ConfigError(f"--recovery-dir {directory}: its {OWNER_FILE} file is not a command name, "
                          f"received {recorded[:60]!r}; if it is {owner!r}'s, write that name into it") from None
    if found != owner:
        raise ConfigError(f"--recovery-dir {directory} belongs to {found!r} (its {OWNER_FILE} file), not to "
                          f"{owner!r}: give each stage its own directory")
