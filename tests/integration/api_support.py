"""A short `pairflow demo` run for the API and browser tests: its URL and token while it runs, its store after."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

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


def start_demo(tmp_path: Path, seconds: int = DEMO_SECONDS) -> DemoRun:
    """Start a fast demo (4 coins, speed 30) for ``seconds`` and return once its API answers."""
    data_dir = tmp_path / "demo"
    process = start_pairflow(
        tmp_path, "demo", "--duration", str(seconds), "--speed", "30", "--coins", "ETH,SOL,AAVE,UNI",
        "--data-dir", str(data_dir), "--api-port", "0",
        # The market pace these API tests were tuned on (the demo's own default is livelier).
        extra_env={"PAIRFLOW_VENUE__TRADE_RATE_PER_MINUTE": "12"},
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
