"""The ``pairflow`` command line.

Each area of the system contributes its commands through a ``register(app)``
function; this module only assembles them and turns expected failures
(:class:`pairflow.errors.PairflowError`) into one red line and exit code 2
instead of a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from app.commands import alertmanager, backfill, collect, config, dashboards, data, db, demo, ingest, logs, scan, venue
from pairflow.errors import PairflowError

app = typer.Typer(
    name="pairflow",
    help=(
        "pairflow: statistical arbitrage on Hyperliquid perpetuals as a streaming dataflow.\n\n"
        "Configuration comes from ./pairflow.toml (or --config / $PAIRFLOW_CONFIG) with "
        "PAIRFLOW_<SECTION>__<FIELD> environment overrides; see `pairflow config show`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for command_group in (config, db, demo, collect, backfill, data, ingest, scan, venue, dashboards, alertmanager, logs):
    command_group.register(app)


def main() -> None:
    """Run the CLI, printing expected errors as one line without a traceback."""
    try:
        app(prog_name="pairflow")
    except PairflowError as error:
        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
