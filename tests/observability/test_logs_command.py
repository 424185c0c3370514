"""``pairflow logs``: records mirrored by real loggers into chDB, filtered and printed readable and coloured."""

from __future__ import annotations

import logging
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from app.cli import app
from app.commands.logs import parse_since
from pairflow.config import LoggingSettings, StorageSettings
from pairflow.errors import PairflowError
from pairflow.logs import configure_logging, get_logger
from pairflow.storage import BatchWriter, connect

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def log_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A chDB store whose logs table was filled through the ClickHouse mirror of real loggers."""
    directory = tmp_path_factory.mktemp("logs")
    settings = StorageSettings(dsn=f"chdb://{directory / 'db'}", spill_dir=directory / "spill")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with connect(settings) as store:
        store.init_schema()
        writer = BatchWriter(store, "logs", settings=settings, background=False)
        configure_logging(LoggingSettings(level="DEBUG", to_clickhouse=True), writer=writer)
        records = [
            ("sources.collector", "warning", "stale stream, reconnecting", {"coin": "ETH", "silent_s": 12.5}),
            ("sources.collector", "debug", "frame parsed", {"channel": "trades"}),
            ("flows.ingest", "info", "epoch written", {"rows": 120}),
            ("pairflow.storage.writer", "error", "insert failed, retrying", {"table": "trades", "attempt": 2}),
            ("sourcesque", "error", "a logger that only shares the prefix", {}),
        ]
        for logger, method, message, fields in records:
            getattr(get_logger(logger), method)(message, **fields)
            time.sleep(0.003)  # records are ordered by their millisecond timestamp
        writer.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    return {"PAIRFLOW_STORAGE__DSN": settings.dsn, "PAIRFLOW_STORAGE__SPILL_DIR": str(directory / "spill")}


def _run(env: dict[str, str], *args: str, colour: bool = False):
    environment = dict(env, **({"FORCE_COLOR": "1", "TERM": "xterm-256color"} if colour else {"NO_COLOR": "1"}))
    result = CliRunner().invoke(app, ["logs", *args], env=environment)
    return result


def test_default_shows_info_and_above_oldest_first_with_fields(log_store):
    result = _run(log_store)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 4
    assert "WARNING  sources.collector: stale stream, reconnecting coin=ETH silent_s=12.5" in lines[0]
    assert "INFO     flows.ingest: epoch written rows=120" in lines[1]
    assert "ERROR    pairflow.storage.writer: insert failed, retrying table=trades attempt=2" in lines[2]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ", lines[0])
    assert not ANSI.search(result.output)


def test_filters_combine(log_store):
    assert "frame parsed" in _run(log_store, "--level", "debug").output
    errors = _run(log_store, "--level", "error").output
    assert "insert failed" in errors and "epoch written" not in errors and "stale" not in errors
    component = _run(log_store, "--component", "sources", "--level", "debug").output.strip().splitlines()
    assert [line.split(": ", 1)[0].split()[-1] for line in component] == ["sources.collector", "sources.collector"]
    grep = _run(log_store, "--grep", "TRADES").output
    assert "insert failed" in grep and "stale" not in grep  # matched in the fields, case-insensitively
    assert "no log records match" in _run(log_store, "--since", "2000-01-01", "--grep", "nothing like this").output
    assert len(_run(log_store, "--since", "1h", "-n", "2").output.strip().splitlines()) == 2


def test_levels_are_coloured_on_a_terminal(log_store):
    output = _run(log_store, colour=True).output
    assert ANSI.search(output)
    assert "\x1b[1;31mERROR" in output and "\x1b[33mWARNING" in output and "\x1b[32mINFO" in output


def test_bad_options_are_one_line_errors(log_store):
    result = _run(log_store, "--level", "loud")
    assert result.exit_code == 2
    assert result.output == "error: --level 'loud' is not one of debug, info, warning, error, critical\n"
    with pytest.raises(PairflowError, match="--since 'yesterday': expected a duration"):
        parse_since("yesterday", 0)


@given(amount=st.integers(0, 10**6), unit=st.sampled_from("smhd"))
def test_durations_count_back_from_now(amount, unit):
    scale = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}[unit]
    assert parse_since(f"{amount}{unit}", 10**13) == 10**13 - amount * scale


@given(text=st.text(max_size=30))
def test_any_since_text_parses_or_is_a_pairflow_error(text):
    try:
        parse_since(text, 10**13)
    except PairflowError as error:
        assert "\n" not in str(error)
