"""`pairflow demo` runs for the API, browser, trading and backup tests: URL and token while one runs, its store after."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.helpers import eventually
from tests.integration.ingest_support import start_pairflow

UI_LINE = re.compile(r"web UI (https?://\S+)/\?token=(\S+)")
DEMO_SECONDS = 45


@dataclass
class DemoRun:
    """A running demo: the API's base URL, its token, its process and where it stores."""

    url: str
    token: str
    process: subprocess.Popen
    data_dir: Path
    log: Path
    seconds: int = DEMO_SECONDS

    def wait(self) -> None:
        """Wait for the demo's --duration to end; its chDB directory is free afterwards."""
        self.process.wait(timeout=self.seconds + 60)
        assert self.process.returncode == 0, self.log.read_text()[-3000:]

    def stop_once_stored(self, *tables: str) -> None:
        """Stop the demo with SIGTERM (its normal stop) once each of ``tables`` holds a row, as /api/health counts.

        Waiting for facts instead of the whole --duration: tests that read the finished store start as soon
        as it holds what they read (the --duration still ends a run that never gets there).
        """
        def stored() -> bool:
            try:
                counts = httpx.get(f"{self.url}/api/health", timeout=5).json()["tables"]
            except httpx.TransportError:
                return self.process.poll() is not None
            return self.process.poll() is not None or all(counts[table] > 0 for table in tables)

        eventually(stored, timeout=self.seconds + 60, interval=0.5)
        self.stop()

    def stop(self) -> None:
        """Stop the demo with SIGTERM (its normal stop: it freezes the market and stores what it holds) and wait."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.wait()


@dataclass(frozen=True)
class FinishedDemo:
    """A `pairflow demo` run that has ended: its --data-dir (chDB, venue snapshot) and what it printed."""

    data_dir: Path
    stdout: str


def start_demo(tmp_path: Path, seconds: int = DEMO_SECONDS, *, coins: str = "ETH,SOL,AAVE,UNI",
               config: Path | None = None) -> DemoRun:
    """Start a fast demo (speed 30) for ``seconds`` and return once its API answers.

    Without ``config`` the market runs at the pace the API tests were tuned on (the demo's own default is livelier).
    """
    data_dir = tmp_path / "demo"
    process = start_pairflow(
        tmp_path, "demo", "--duration", str(seconds), "--speed", "30", "--coins", coins,
        "--data-dir", str(data_dir), "--api-port", "0", *(["--config", str(config)] if config else []),
        extra_env=None if config else {"PAIRFLOW_VENUE__TRADE_RATE_PER_MINUTE": "12"},
    )
    log = tmp_path / "demo.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = UI_LINE.search(log.read_text(errors="replace")) if log.exists() else None
        if found:
            return DemoRun(found[1], found[2], process, data_dir, log, seconds)
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise AssertionError("the demo printed no web UI line:\n" + (log.read_text()[-3000:] if log.exists() else ""))


def served_api(process: subprocess.Popen, log: Path, timeout_s: float = 30) -> tuple[str, str]:
    """Wait for a started `pairflow api` to print its URL and token; return both (fails if it exits first)."""
    deadline = time.monotonic() + timeout_s
    while not (found := re.search(r"pairflow api (http://\S+)/\?token=(\S+)", log.read_text())):
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return found[1], found[2]
