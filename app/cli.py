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
  130 interrupted by Ctrl-C before finishing. The long-running commands (demo,
  collect, ingest, venue serve) take Ctrl-C/SIGTERM as their normal stop: they
  shut down cleanly and exit 0.
* An expected failure (`pairflow.errors.PairflowError`) is printed as one line
  ``error: ...`` on stderr, never a traceback; its exit code comes from the
  error class (`PairflowError.exit_code`), and passwords in URLs are redacted.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from app.commands import (
    alertmanager,
    api,
    backfill,
    backtest,
    collect,
    config,
    dashboards,
    data,
    db,
    demo,
    ingest,
    keys,
    logs,
    optimize,
    run,
    scan,
    strategy,
    trade,
    venue,
)
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


app = typer.Typer(
    name="pairflow",
    cls=_RootGroup,
    help=(
        "pairflow: statistical arbitrage on Hyperliquid perpetuals as a streaming dataflow.\n\n"
        "Configuration comes from ./pairflow.toml (or --config / $PAIRFLOW_CONFIG) with "
        "PAIRFLOW_<SECTION>__<FIELD> environment overrides; see `pairflow config show`.\n\n"
        "Exit codes: 0 ok, 1 failure while running, 2 bad option/config/input, 130 interrupted."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for command_group in (
    config, db, demo, collect, backfill, data, ingest, scan, strategy, backtest, optimize, venue, dashboards,
    alertmanager, logs, keys, trade, api, run,
):
    command_group.register(app)


def main() -> None:
    """Run the CLI as ``pairflow`` (the console script and ``python -m app``)."""
    app(prog_name="pairflow")
