"""The exit-code convention of every command, for the outcomes the mistake tests do not reach, and how the CLI
loads its command groups (only the one a command line names)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app.cli import COMMAND_GROUPS, GROUP_OF, app, build_app
from app.commands import config as config_command
from pairflow.errors import StorageError

REPO = Path(__file__).resolve().parents[2]


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


# A SIGTERM that lands while the command's group loads (as a service manager stopping a process just started).
_TERMINATED_WHILE_LOADING = """
import os, signal, sys
import app.cli as cli
build_app = cli.build_app
def terminated_while_loading(groups):
    os.kill(os.getpid(), signal.SIGTERM)
    return build_app(groups)
cli.build_app = terminated_while_loading
sys.argv = ["pairflow", "config", "show"]
cli.main()
"""


def test_sigterm_before_the_command_runs_is_an_interrupt_exit_130_without_traceback() -> None:
    """Python's default for SIGTERM ends the process with no word and no cleanup; Ctrl-C while modules load
    escaped Typer as a traceback."""
    done = subprocess.run([sys.executable, "-c", _TERMINATED_WHILE_LOADING], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "")


def test_usage_error_exits_2() -> None:
    result = CliRunner().invoke(app, ["venue", "serve", "--port", "many"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


@pytest.mark.parametrize("group", COMMAND_GROUPS)
def test_each_group_adds_exactly_the_commands_said_to_be_its_own(group: str) -> None:
    own = sorted(command for command, owner in GROUP_OF.items() if owner == group)
    assert sorted(typer.main.get_group(build_app((group,))).commands) == own


def test_the_whole_cli_has_every_command_of_every_group() -> None:
    assert sorted(typer.main.get_group(app).commands) == sorted(GROUP_OF)


@pytest.mark.parametrize(
    ("command", "groups", "heavy"),
    [
        (["venue", "serve"], ["app.commands.venue"], []),
        (["ingest"], ["app.commands.ingest"], []),
        (["run"], ["app.commands.keys", "app.commands.run"], []),  # a stage imports its own flow when it starts
        (["api"], ["app.commands.api"], ["fastapi"]),  # the backtest engine and the scan load when asked for
        # The scan clusters with scipy at once; statsmodels loads once a pair is tested.
        (["scan"], ["app.commands.backfill", "app.commands.scan"], ["scipy"]),
    ],
    ids=["venue", "ingest", "run", "api", "scan"],
)
def test_a_command_line_imports_only_what_it_runs(command: list[str], groups: list[str], heavy: list[str]) -> None:
    """Each process a test or a deployment starts pays for its imports: only the named group's, never statsmodels."""
    probe = (
        "import sys\n"
        "from app.cli import main\n"
        f"sys.argv = ['pairflow', *{command!r}, '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        "groups = sorted(name for name in sys.modules if name.startswith('app.commands.'))\n"
        "heavy = sorted(name for name in ('river', 'statsmodels', 'scipy', 'fastapi') if name in sys.modules)\n"
        "print(groups)\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    loaded, imported = done.stdout.splitlines()[-2:]
    assert (loaded, imported) == (repr(groups), repr(heavy))
