"""``pairflow data import``: external OHLCV and funding history (CSV or Parquet) into the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.options import ConfigOption, examples
from pairflow.config import load_settings
from pairflow.logs import start_logging
from pairflow.storage import BatchWriter, connect
from sources.history_files import HistoryFile, read_history_file

__all__ = ["IMPORT_HELP", "register"]

_CHUNK = 20_000

IMPORT_HELP = (
    "Load candles or funding from CSV or Parquet files into the `candles` and `funding` tables. Layouts: long "
    "(timestamp, coin, open, high, low, close, volume), funding (timestamp, coin, funding_rate), or wide (a "
    "date/time column, ISO or yyyymmdd, then one column of closes per symbol). The bar interval (1s to 1d) is "
    "inferred. Every file is checked before anything is written; a bad column, unsorted or repeated row or "
    "non-positive price is reported with file, line and value. Importing the same file again changes nothing."
) + examples("pairflow data import prices.csv funding.parquet")


def import_command(
    files: Annotated[list[Path], typer.Argument(help="CSV or Parquet files to import.", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """Validate every file, then write its rows (see IMPORT_HELP)."""
    settings = load_settings(config)
    start_logging(settings)
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    loaded: list[HistoryFile] = []
    # Bars only on a terminal: piped or in CI, stderr holds nothing but a possible one-line error.
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        for path in files:
            task = bar.add_task(f"read {path.name}", total=None)
            loaded.append(read_history_file(path, lambda rows, task=task: bar.update(task, completed=rows)))
            bar.update(task, total=len(loaded[-1].events), completed=len(loaded[-1].events))
        store = connect(settings.storage)
        try:
            store.init_schema()
            for history in loaded:
                events = history.events
                task = bar.add_task(f"write {history.path.name}", total=len(events))
                writer = BatchWriter(store, history.kind, settings=settings.storage, background=False)
                try:
                    for start in range(0, len(events), _CHUNK):
                        writer.add_many(events[start : start + _CHUNK])
                        writer.flush()
                        bar.update(task, completed=min(start + _CHUNK, len(events)))
                finally:
                    writer.close()
        finally:
            store.close()
    for history in loaded:
        times = [event.ts for event in history.events]
        shape = f"{history.layout} {history.kind}" + (f" {history.interval}" if history.interval else "")
        console.print(
            f"{history.path}: {len(history.events)} rows of {shape} for {len(history.coins)} coins "
            f"({', '.join(history.coins[:8])}{', ...' if len(history.coins) > 8 else ''}), "
            f"{_iso(min(times))} to {_iso(max(times))}",
            soft_wrap=True,
        )


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group (``data import``) to the root CLI."""
    data = typer.Typer(help="Bring external market history into the store." + examples("pairflow data import prices.csv"),
                       no_args_is_help=True)
    data.command("import", help=IMPORT_HELP)(import_command)
    app.add_typer(data, name="data")
