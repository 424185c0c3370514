"""Run ``pairflow venue serve`` as a real subprocess for integration tests."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LISTENING = "pairflow venue listening on "


class VenueProcess:
    """A venue subprocess started with `args`; `url` is read from its start-up line.

    Pass ``--data-dir`` or ``--ephemeral`` so no test touches the default ./data/venue.
    """

    def __init__(self, *args: str, timeout: float = 30.0) -> None:
        command = [sys.executable, "-m", "app", "venue", "serve", "--host", "127.0.0.1", "--port", "0", *args]
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        self.process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        self.url = self._wait_for_url(timeout)

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            self._queue.put(line)
        self._queue.put(None)

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            if line.startswith(LISTENING):
                return line[len(LISTENING) :].strip()
        self.kill()
        raise RuntimeError("venue did not start:\n" + "\n".join(self.lines))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def terminate(self, timeout: float = 20.0) -> int:
        """Send SIGTERM and return the exit code."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._pump_thread.join(5.0)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
