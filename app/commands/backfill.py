"""``pairflow backfill``: historical candles and funding over REST into the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.coins import check_coins
from app.options import ConfigOption, UrlOption, examples, parse_coins
from pairflow.config import Settings, load_settings
from pairflow.errors import ConfigError
from pairflow.hyperliquid.client import InfoClient
from pairflow.hyperliquid.schemas import candle_interval_ms
from pairflow.logs import start_logging
from pairflow.storage import Store, connect
from sources.backfill import BackfillReport, backfill
from sources.backfill import Progress as BackfillProgress

__all__ = ["BACKFILL_HELP", "parse_day", "register"]

BACKFILL_HELP = (
    "Load historical candles and hourly funding over REST into the `candles` and `funding` tables. Safe to "
    "interrupt and to run again: a run resumes from the last stored candle per coin and interval, and rows are "
    "never duplicated. Requests stay inside the API's weight budget."
) + examples("pairflow backfill --coins BTC,ETH,SOL --from 2024-09-01 --to 2024-10-01 --interval 1h --url mainnet")


def parse_day(text: str, option: str) -> int:
    """Return epoch milliseconds of an ISO date or date-time (UTC unless it names a zone)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a date like 2024-09-01 or 2024-09-01T12:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def backfill_command(
    coins: Annotated[str, typer.Option("--coins", help="Comma-separated coins to load, e.g. BTC,ETH.")],
    start: Annotated[str, typer.Option("--from", help="First day (UTC), e.g. 2024-09-01.")],
    end: Annotated[str, typer.Option("--to", help="Day after the last one (UTC, exclusive), e.g. 2024-10-01.")],
    interval: Annotated[
        str, typer.Option("--interval", help="Candle interval: 1m 3m 5m 15m 30m 1h 2h 4h 8h 12h 1d.")
    ] = "1m",
    url: UrlOption = None,
    config: ConfigOption = None,
) -> None:
    """Load a range of candles and funding into the store (see BACKFILL_HELP)."""
    settings = load_settings(config)
    coin_list = parse_coins(coins)
    start_ms, end_ms = parse_day(start, "--from"), parse_day(end, "--to") - 1
    if end_ms < start_ms:
        raise ConfigError(f"--to {end!r} must be after --from {start!r}")
    try:
        candle_interval_ms(interval)
    except ValueError as error:
        raise ConfigError(f"--interval: {error}") from None
    start_logging(settings)
    api = url or settings.collector.url
    check_coins(api, coin_list)
    console = Console(stderr=True)
    store = connect(settings.storage)
    try:
        store.init_schema()
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rows]} rows"), TimeElapsedColumn())
        # Bars only on a terminal: piped or in CI, stderr holds nothing but a possible one-line error.
        with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
            tasks: dict[tuple[str, str], int] = {}

            def advance(coin: str, table: str, done_ms: int, total_ms: int, rows: int) -> None:
                key = (coin, table)
                if key not in tasks:
                    tasks[key] = bar.add_task(f"{coin} {table}", total=total_ms // 60_000, rows=0)
                bar.update(tasks[key], completed=done_ms // 60_000, rows=rows)

            report = asyncio.run(_backfill(store, api, coin_list, start_ms, end_ms, interval, advance, settings))
    except KeyboardInterrupt:
        console.print("backfill interrupted; run the same command again to resume")
        raise typer.Exit(130) from None
    finally:
        store.close()
    for coin in coin_list:
        console.print(f"{coin}: {report.candles[coin]} candles, {report.funding[coin]} funding rows")
    if report.skipped_pages:
        console.print(f"[yellow]{report.skipped_pages} pages could not be parsed and were skipped (see the log)[/]")


async def _backfill(
    store: Store,
    url: str,
    coins: list[str],
    start_ms: int,
    end_ms: int,
    interval: str,
    progress: BackfillProgress,
    settings: Settings,
) -> BackfillReport:
    async with InfoClient(url) as info:
        return await backfill(
            store, info, coins, start_ms, end_ms, interval, progress=progress, storage=settings.storage
        )


def register(app: typer.Typer) -> None:
    """Add the ``backfill`` command to the root CLI."""
    app.command("backfill", help=BACKFILL_HELP)(backfill_command)
