"""Fixtures of the integration tests: the local venue served over real HTTP/WebSocket, demo runs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.api_support import DemoRun, FinishedDemo, start_demo
from tests.integration.venue_support import SteppableClock, Tape, serve_venue
from venue.engine import Engine


@pytest.fixture
def venue() -> Iterator[tuple[Engine, str, SteppableClock, Tape]]:
    """Yield ``(engine, url, clock, tape)`` of a served venue whose maker rests a 50 ETH ask at 2001."""
    with serve_venue() as served:
        yield served


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point in-process CLI runs at a chDB store in ``tmp_path/db`` and an empty config file; return ``tmp_path``."""
    monkeypatch.setenv("PAIRFLOW_STORAGE__DSN", f"chdb://{tmp_path}/db")
    monkeypatch.setenv("PAIRFLOW_STORAGE__SPILL_DIR", str(tmp_path / "spill"))
    monkeypatch.setenv("PAIRFLOW_CONFIG", str(tmp_path / "pairflow.toml"))
    (tmp_path / "pairflow.toml").write_text("")
    return tmp_path


@pytest.fixture(scope="session")
def api_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """A demo run for the API tests: live checks over HTTP and WebSocket, then stopped once it stored what the
    tests of the finished store read (after 75 s at the latest)."""
    run = start_demo(tmp_path_factory.mktemp("api-demo"), seconds=75)
    yield run
    if run.process.poll() is None:
        run.process.kill()
        run.process.wait()


@pytest.fixture(scope="session")
def trading_demo(tmp_path_factory: pytest.TempPathFactory) -> FinishedDemo:
    """Two simulated hours of `pairflow demo` trading the planted ETH/SOL pair (speed 240, 30 s), finished.

    The trading test checks its books against the venue account; the backup test backs its store up and
    restores it. One run serves both: a demo takes a core for half a minute, so each extra run costs the suite.
    """
    workdir = tmp_path_factory.mktemp("trading-demo")
    config = workdir / "demo.toml"
    config.write_text("[venue]\ntrade_rate_per_minute = 60.0\n[strategy]\nentry_z = 1.5\nexit_z = 0.1\n")
    command = [sys.executable, "-m", "app", "demo", "--duration", "30", "--speed", "240", "--coins", "ETH,SOL",
               "--data-dir", str(workdir / "demo"), "--config", str(config)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    return FinishedDemo(workdir / "demo", done.stdout)
