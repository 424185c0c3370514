"""Small helpers shared by the test suite."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# The shared folder beside the checkout; TESTS_SHARED_DIR points elsewhere (e.g. from a git worktree).
# (Not PAIRFLOW_*: that prefix is reserved for settings, and unknown PAIRFLOW_* variables are refused.)
SHARED = Path(os.environ.get("TESTS_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def eventually(fn: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Call ``fn`` until it returns a truthy value without raising; return that value.

    Raises the last assertion (or a TimeoutError) when ``timeout`` passes, so a
    failing test shows what was still wrong instead of a bare time-out.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = None
        except (AssertionError, LookupError, ConnectionError, OSError) as exc:
            last = exc
        if time.monotonic() >= deadline:
            if last is not None:
                raise last
            raise TimeoutError(f"condition {getattr(fn, '__name__', fn)!r} not met within {timeout}s")
        time.sleep(interval)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_keystore(directory: Path, passphrase: str) -> Path:
    """Create a fresh key encrypted with ``passphrase`` in ``directory``; return its keystore file."""
    from pairflow.hyperliquid.keystore import new_key  # eth-account is slow to import; only key tests pay for it

    return directory / f"{new_key(directory, passphrase).lower()}.json"
