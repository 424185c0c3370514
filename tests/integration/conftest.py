"""Fixtures of the integration tests: the local venue served over real HTTP/WebSocket, demo runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.api_support import DemoRun, start_demo
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
    """A demo run for the API tests: about a minute of live checks over HTTP and WebSocket, then it stops by itself."""
    run = start_demo(tmp_path_factory.mktemp("api-demo"), seconds=75)
    yield run
    if run.process.poll() is None:
        run.process.kill()
        run.process.wait()
