"""The exit-code convention of every command, for the outcomes the mistake tests do not reach."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.commands import config as config_command
from pairflow.errors import StorageError


def _raise(error: BaseException):
    def load_settings(path: object) -> None:
        raise error

    return load_settings


@pytest.mark.parametrize(
    ("error", "code", "output"),
    [
        (KeyboardInterrupt(), 130, ""),
        (StorageError("cannot reach https://bob:hunter2@ch:8443/pf"), 1,
         "error: cannot reach https://bob:<redacted>@ch:8443/pf\n"),
    ],
    ids=["interrupted", "failure-while-running"],
)
def test_exit_code_follows_what_ended_the_command(monkeypatch, error, code, output) -> None:
    monkeypatch.setattr(config_command, "load_settings", _raise(error))
    result = CliRunner().invoke(app, ["config", "show"])
    assert (result.exit_code, result.output) == (code, output)


def test_usage_error_exits_2() -> None:
    result = CliRunner().invoke(app, ["venue", "serve", "--port", "many"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
