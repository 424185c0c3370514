"""The ``pairflow`` command line: the root command and the conventions every command shares.

Each command group lives in its own module under `app.commands` and adds its
commands through ``register(app)``; this module assembles them.

Conventions (the README lists them for users):

* ``--config/-c FILE`` on every command that reads settings (`app.options.ConfigOption`);
  without it $PAIRFLOW_CONFIG, else ./pairflow.toml if present, then
  ``PAIRFLOW_<SECTION>__<FIELD>`` environment overrides.
* Exit codes: 0 success; 1 a failure while running (store or broker
  unreachable, a collector that stopped); 2 a command that could not start
  because of what it was given (bad option, config file, environment variable,
  unusable directory, unknown coin) -- click's own usage errors use 2 as well;
  130 interrupted by Ctrl-C or SIGTERM before finishing. The long-running commands
  (demo, trade, collect, ingest, strategy, run STAGE, venue serve, api,
  alertmanager relay) take Ctrl-C/SIGTERM as their normal stop: they shut down
  cleanly and exit 0.
* An expected failure (`pairflow.errors.PairflowError`) is printed as one line
  ``error: ...`` on stderr, never a traceback; its exit code comes from the
  error class (`PairflowError.exit_code`), and passwords in URLs are redacted.
"""

from __future__ import annotations

import importlib
import signal
import sys
from collections.abc import Iterable
from functools import cache
from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from app.options import examples
from pairflow.errors import PairflowError

__all__ = ["app", "main", "report_error"]


def report_error(error: PairflowError) -> None:
    """Print ``error: <message>`` as one line on stderr."""
    Console(stderr=True).print(Text.assemble(("error:", "bold red"), f" {error}"), soft_wrap=True)


class _RootGroup(TyperGroup):
    """Turns expected errors into one line and their exit code, for every sub-command.

    (Typer itself turns Ctrl-C into exit code 130 and usage errors into 2.)
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PairflowError as error:
            report_error(error)
            raise typer.Exit(error.exit_code) from None


# The command groups, one module of app.commands each, in the order --help lists them.
COMMAND_GROUPS = (
    "config", "db", "demo", "collect", "backfill", "data", "ingest", "scan", "strategy", "backtest", "optimize",
    "venue", "dashboards", "alertmanager", "logs", "keys", "trade", "api", "run",
)
# The group of each top-level command: a group adds the command it is named after, and these.
GROUP_OF = {**{group: group for group in COMMAND_GROUPS}, "kill": "trade"}


ROOT_HELP = (
    "pairflow: statistical arbitrage on Hyperliquid perpetuals as a streaming dataflow.\n\n"
    "Configuration comes from ./pairflow.toml (or --config / $PAIRFLOW_CONFIG) with "
    "PAIRFLOW_<SECTION>__<FIELD> environment overrides; see `pairflow config show`.\n\n"
    "Exit codes: 0 ok, 1 failure while running, 2 bad option/config/input, 130 interrupted."
) + examples("pairflow demo", "pairflow backtest --spreads ETH/SOL --from 2024-09-01 --to 2024-10-01")


def _root() -> None:
    """Keep the CLI a group of commands with one group loaded: Typer runs an app of one command as that command."""


def build_app(groups: Iterable[str] = COMMAND_GROUPS) -> typer.Typer:
    """Return the CLI with the named groups of `COMMAND_GROUPS`, in the order given."""
    app = typer.Typer(
        name="pairflow", cls=_RootGroup, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False
    )
    app.callback(help=ROOT_HELP)(_root)
    for group in groups:
        importlib.import_module(f"app.commands.{group}").register(app)
    return app


@cache
def _whole_app() -> typer.Typer:
    return build_app()


def __getattr__(name: str) -> typer.Typer:
    """Build the whole CLI on the first use of ``app.cli.app`` (in-process callers, tests), not on import."""
    if name == "app":
        return _whole_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Run the CLI as ``pairflow`` (the console script and ``python -m app``), loading only the group it names.

    Each group imports what its commands run (the strategy river and statsmodels, the API fastapi): all
    of them cost about 2.5 s of CPU at every start, paid by each `pairflow venue serve` or `db status`.
    Without a group's name first (help, a typo) every group is loaded, so help and suggestions list all.
    """
    # Until a command takes the signals as its own stop, SIGTERM (a service manager's stop) interrupts like
    # Ctrl-C (exit 130, see above) rather than killing the process with no cleanup and no word.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    group = GROUP_OF.get(sys.argv[1]) if len(sys.argv) > 1 else None
    try:
        build_app(COMMAND_GROUPS if group is None else (group,))(prog_name="pairflow")
    except KeyboardInterrupt:  # while the group's modules load, before Typer handles it for the command
        raise SystemExit(130) from None
