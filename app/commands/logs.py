"""``pairflow logs``: read the structured logs every process mirrors into the ``logs`` table.

The ELK role on SQL: records are filtered in ClickHouse (level, time,
substring, component) and printed oldest first, one coloured line each.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from app.options import ConfigOption
from pairflow.clock import WALL_CLOCK
from pairflow.config import load_settings
from pairflow.errors import ConfigError
from pairflow.storage import connect

__all__ = ["LEVELS", "logs_query", "parse_since", "register"]

LEVELS = ("debug", "info", "warning", "error", "critical")
_STYLE = {"debug": "dim", "info": "green", "warning": "yellow", "error": "bold red", "critical": "bold white on red"}
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"(\d+)([smhd])")


def parse_since(text: str, now_ms: int) -> int:
    """Return the epoch-ms start of ``--since``: a duration back from ``now_ms`` (30s, 10m, 2h, 1d) or an ISO time.

    >>> parse_since("10m", 1_000_000_000)
    999400000
    >>> parse_since("2026-01-01T00:00:00Z", 0)
    1767225600000

    Raises
    ------
    ConfigError
        For anything else, naming the accepted forms.
    """
    match = _DURATION.fullmatch(text.strip())
    if match:
        return now_ms - int(match[1]) * _UNIT_MS[match[2]]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--since {text!r}: expected a duration such as 30s, 10m, 2h or 1d, or an ISO time such as 2026-01-01T12:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def logs_query(
    level: str, since_ms: int | None, grep: str | None, component: str | None, limit: int
) -> tuple[str, dict[str, Any]]:
    """Return the parameterised SQL selecting the newest ``limit`` matching records, and its parameters.

    ``level`` is the lowest level shown; ``component`` matches a logger and
    its children (``sources`` matches ``sources.collector``); ``grep`` is a
    case-insensitive substring of the message or the fields.
    """
    where = ["level IN {levels:Array(String)}"]
    params: dict[str, Any] = {"levels": list(LEVELS[LEVELS.index(level) :]), "limit": limit}
    if since_ms is not None:
        where.append("ts >= {since:Int64}")
        params["since"] = since_ms
    if grep:
        where.append(
            "(positionCaseInsensitive(message, {grep:String}) > 0 OR positionCaseInsensitive(fields, {grep:String}) > 0)"
        )
        params["grep"] = grep
    if component:
        where.append("(logger = {component:String} OR startsWith(logger, {prefix:String}))")
        params["component"] = component
        params["prefix"] = component + "."
    sql = (
        "SELECT ts, level, logger, message, fields FROM logs WHERE "
        + " AND ".join(where)
        + " ORDER BY ts DESC, id DESC LIMIT {limit:UInt32}"
    )
    return sql, params


def render(row: dict[str, Any]) -> Text:
    """Return one record as a line: UTC time, coloured level, logger, message, then key=value fields."""
    stamp = datetime.fromtimestamp(row["ts"] / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    line = Text()
    line.append(stamp + " ", style="dim")
    line.append(f"{row['level'].upper():<8}", style=_STYLE.get(row["level"], "bold"))
    line.append(f" {row['logger']}: ", style="cyan")
    line.append(row["message"])
    try:
        fields = json.loads(row["fields"] or "{}")
    except ValueError:
        fields = {"fields": row["fields"]}
    for key, value in fields.items():
        line.append(f" {key}=", style="dim")
        line.append(value if isinstance(value, str) else json.dumps(value))
    return line


def logs(
    level: Annotated[str, typer.Option("--level", "-l", help=f"Lowest level shown: {', '.join(LEVELS)}.")] = "info",
    since: Annotated[
        str | None, typer.Option("--since", help="Only records since a duration ago (30s, 10m, 2h, 1d) or an ISO time.")
    ] = None,
    grep: Annotated[
        str | None, typer.Option("--grep", "-g", help="Case-insensitive text the message or its fields contain.")
    ] = None,
    component: Annotated[
        str | None, typer.Option("--component", help="Logger and its children, e.g. sources or flows.ingest.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100_000, help="Newest records shown.")] = 200,
    config: ConfigOption = None,
) -> None:
    """Show log records from the logs table, oldest first, coloured by level.

    Processes write it when logging.to_clickhouse is on. An embedded chDB
    directory is readable by one process at a time: read it after the
    process that writes it has stopped, or use a ClickHouse server.

    \b
    Examples:
      pairflow logs --level WARNING --since 1h
      pairflow logs --grep reconcil --component sinks.desk -n 50
    """
    if level.lower() not in LEVELS:
        raise ConfigError(f"--level {level!r} is not one of {', '.join(LEVELS)}")
    since_ms = parse_since(since, WALL_CLOCK.now_ms()) if since else None
    sql, params = logs_query(level.lower(), since_ms, grep, component, limit)
    with connect(load_settings(config).storage) as store:
        rows = store.query_dicts(sql, params)
    console = Console(highlight=False, soft_wrap=True)
    for row in reversed(rows):
        console.print(render(row))
    if not rows:
        console.print("no log records match", style="dim")


def register(app: typer.Typer) -> None:
    """Add ``pairflow logs`` to the CLI."""
    app.command("logs")(logs)
