"""``pairflow dashboards export``: Grafana dashboards and provisioning files from dashboards/ (grafanalib)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.options import examples, usable_directory
from dashboards.datasources import ClickHouseAccess
from dashboards.export import export

__all__ = ["register"]

dashboards_app = typer.Typer(help="Grafana dashboards as code." + examples("pairflow dashboards export build/grafana"),
                             no_args_is_help=True)


@dashboards_app.command("export")
def export_command(
    directory: Annotated[Path, typer.Argument(help="Where to write dashboards/ and provisioning/.")],
    prometheus_url: Annotated[
        str, typer.Option("--prometheus-url", help="URL at which Grafana reaches Prometheus.")
    ] = "http://127.0.0.1:9090",
    clickhouse_host: Annotated[str, typer.Option("--clickhouse-host", help="ClickHouse server host for Grafana.")] = (
        "127.0.0.1"
    ),
    clickhouse_port: Annotated[
        int, typer.Option("--clickhouse-port", min=1, max=65535, help="ClickHouse native-protocol port.")
    ] = 9000,
    clickhouse_user: Annotated[str, typer.Option("--clickhouse-user", help="ClickHouse user (read-only is enough).")] = (
        "default"
    ),
    grafana_path: Annotated[
        Path | None,
        typer.Option("--grafana-path", help="Path at which Grafana sees DIRECTORY/dashboards (default: as written)."),
    ] = None,
) -> None:
    """Write every dashboard as Grafana JSON plus datasource and dashboard-provider provisioning files.

    Point Grafana's provisioning directory at DIRECTORY/provisioning; the
    ClickHouse password is taken from PAIRFLOW_STORAGE__PASSWORD in Grafana's
    environment. The ClickHouse panels need the grafana-clickhouse-datasource plugin.

    \b
    Examples:
      pairflow dashboards export build/grafana --prometheus-url http://prometheus:9090
    """
    access = ClickHouseAccess(host=clickhouse_host, port=clickhouse_port, username=clickhouse_user)
    written = export(usable_directory(directory, "DIRECTORY"), prometheus_url=prometheus_url, clickhouse=access, grafana_path=grafana_path)
    for path in written:
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add ``pairflow dashboards`` to the CLI."""
    app.add_typer(dashboards_app, name="dashboards")
