"""``pairflow db``: create the schema and inspect the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.options import ConfigOption, examples
from pairflow.config import load_settings
from pairflow.storage.backup import backup as backup_store
from pairflow.storage.backup import check_manifest
from pairflow.storage.backup import restore as restore_store
from pairflow.errors import ConfigError
from pairflow.storage.cluster import check_cluster_name
from pairflow.storage.migrations import applied_versions, load_migrations, migration_ddl
from pairflow.storage.store import Store, connect

__all__ = ["register"]

db_app = typer.Typer(help="Create and inspect the ClickHouse / chDB store." + examples("pairflow db init", "pairflow db status"),
                     no_args_is_help=True)


@db_app.command("init")
def init(
    config: ConfigOption = None,
    cluster: Annotated[
        str | None,
        typer.Option(help="Create the cluster form: replicated *_local tables under Distributed ones, ON CLUSTER NAME."),
    ] = None,
    print_sql: Annotated[
        bool, typer.Option("--print-sql", help="Print the DDL of every migration (in cluster form with --cluster) instead of running it.")
    ] = False,
) -> None:
    """Apply pending schema migrations from infra/clickhouse/ (idempotent: a second run changes nothing).

    \b
    Examples:
      pairflow db init
      pairflow db init --print-sql
      pairflow db init --cluster prod --print-sql
    """
    if cluster is not None:
        check_cluster_name(cluster)
    if print_sql:
        for statement in migration_ddl(cluster):
            typer.echo(f"{statement};")
        return
    with _open(config) as store:
        if cluster is not None and store.embedded:
            raise ConfigError(f"--cluster needs a ClickHouse server; storage.dsn names {store.location}")
        applied = store.init_schema(cluster=cluster)
    if applied:
        typer.echo(f"{store.location}: applied migrations {', '.join(f'{v:04d}' for v in applied)}")
    else:
        typer.echo(f"{store.location}: schema is up to date")


@db_app.command("status")
def status(config: ConfigOption = None) -> None:
    """Show applied and pending migrations and the (deduplicated) row count of every table.

    \b
    Examples:
      pairflow db status --config pairflow.toml
    """
    console = Console()
    with _open(config) as store:
        done = applied_versions(store)
        versions = Table(title=f"migrations on {store.location}")
        for heading in ("version", "name", "state"):
            versions.add_column(heading)
        for migration in load_migrations():
            state = "applied" if migration.version in done else "pending"
            versions.add_row(f"{migration.version:04d}", migration.name, state)
        console.print(versions)
        tables = store.query(
            "SELECT name, engine, total_rows FROM system.tables WHERE database = currentDatabase() ORDER BY name"
        )
        counts = Table(title="tables")
        for heading in ("table", "engine", "rows", "rows (raw)"):
            counts.add_column(heading, justify="right" if heading.startswith("rows") else "left")
        for name, engine, total_rows in tables:
            distinct = store.count(name)
            counts.add_row(name, engine, str(distinct), str(total_rows if total_rows is not None else ""))
        console.print(counts)


@db_app.command("backup")
def backup(
    directory: Annotated[Path, typer.Argument(help="New or empty directory to write the backup into.")],
    config: ConfigOption = None,
) -> None:
    """Copy every table, row for row, into DIR (one Native file per table and a manifest with the schema version).

    \b
    Examples:
      pairflow db backup backups/2024-10-01
    """
    with _open(config) as store:
        summary = backup_store(store, directory)
    typer.echo(f"backed up {summary.total_rows} rows of {len(summary.rows)} tables from {store.location} to {directory}")


@db_app.command("restore")
def restore(
    directory: Annotated[Path, typer.Argument(help="Directory written by `pairflow db backup`.")],
    config: ConfigOption = None,
) -> None:
    """Load a backup into an empty store; refuses a damaged backup, another schema version or a store holding data.

    \b
    Examples:
      pairflow db restore backups/2024-10-01
    """
    check_manifest(directory)
    with _open(config) as store:
        summary = restore_store(store, directory)
    typer.echo(f"restored {summary.total_rows} rows of {len(summary.rows)} tables from {directory} into {store.location}")


def _open(config: Path | None) -> Store:
    return connect(load_settings(config).storage)


def register(app: typer.Typer) -> None:
    """Add the ``db`` sub-command group to the root CLI."""
    app.add_typer(db_app, name="db")
