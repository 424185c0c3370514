"""``pairflow collect`` and ``pairflow backfill``: market data from Hyperliquid (or the local venue)."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pairflow.config import CollectorSettings, Settings, config_error_from, load_settings
from pairflow.errors import PairflowError
from pairflow.events import MARKET_TOPICS
from pairflow.hyperliquid.client import InfoClient
from pairflow.logs import start_logging
from pairflow.metrics import serve_metrics
from pairflow.storage import BatchWriter, Store, connect
from sinks.kafka import KafkaSink
from sources.backfill import BackfillReport, backfill
from sources.backfill import Progress as BackfillProgress
from sources.collector import Collector
from sources.gaps import interval_ms

__all__ = ["BACKFILL_HELP", "COLLECT_HELP", "UrlOption", "override_collector", "parse_coins", "parse_day", "register"]

_POLL_SINK_S = 0.2

COLLECT_HELP = (
    "Stream trades, L2 books, BBO, candles and asset contexts over WebSocket, plus contexts, funding and the fee "
    "schedule over REST, into the broker topics md.* (broker section of the config). Reconnects by itself with "
    "backoff, re-fetches candles and funding missed during an outage, and records every gap in the `gaps` table "
    "and on md.gaps. Stop with Ctrl-C."
)
BACKFILL_HELP = (
    "Load historical candles and hourly funding over REST into the `candles` and `funding` tables. Safe to "
    "interrupt and to run again: a run resumes from the last stored candle per coin and interval, and rows are "
    "never duplicated. Requests stay inside the API's weight budget."
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML file to load (default: $PAIRFLOW_CONFIG or ./pairflow.toml)."),
]
UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", help="API: 'mainnet', 'testnet' or an http(s):// base URL such as the local venue (collector.url)."
    ),
]


def parse_coins(text: str | None) -> list[str]:
    """Split ``'BTC, ETH'`` into ``['BTC', 'ETH']``; raise a PairflowError on an empty name."""
    if text is None:
        return []
    coins = [coin.strip() for coin in text.split(",")]
    if not all(coins):
        raise PairflowError(f"--coins {text!r} must be a comma-separated list of coin names such as BTC,ETH")
    return coins


def override_collector(
    settings: CollectorSettings, url: str | None = None, coins: str | None = None, top: int | None = None
) -> CollectorSettings:
    """Return collector settings with the command-line values that were given, validated like the config."""
    updates: dict[str, object] = {}
    if url is not None:
        updates["url"] = url
    if coins is not None:
        updates["coins"] = parse_coins(coins)
    if top is not None:
        updates["top_n"] = top
    try:
        return CollectorSettings.model_validate({**settings.model_dump(), **updates})
    except ValidationError as error:
        raise config_error_from(error) from None


def parse_day(text: str, option: str) -> int:
    """Return epoch milliseconds of an ISO date or date-time (UTC unless it names a zone)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PairflowError(f"{option} {text!r} is not a date like 2024-09-01 or 2024-09-01T12:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def collect(
    url: UrlOption = None,
    coins: Annotated[
        str | None, typer.Option("--coins", help="Comma-separated coins, e.g. BTC,ETH (collector.coins).")
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(
            "--top", min=1, help="Without --coins: collect the N coins with the most 24h volume (collector.top_n)."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Collect market data into the broker until interrupted (see COLLECT_HELP)."""
    settings = load_settings(config)
    collector_settings = override_collector(settings.collector, url, coins, top)
    start_logging(settings)
    if settings.metrics.port:
        serve_metrics(settings.metrics.port, settings.metrics.host)
    asyncio.run(_collect(settings, collector_settings))


async def _collect(settings: Settings, collector_settings: CollectorSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with connect(settings.storage) as store:
        store.init_schema()
        with BatchWriter(store, "gaps", settings=settings.storage) as gaps:
            sink = KafkaSink(settings.broker, topics=MARKET_TOPICS)

            async def serve_deliveries() -> None:
                while not stop.is_set():
                    sink.poll(0)
                    await asyncio.sleep(_POLL_SINK_S)

            poller = asyncio.create_task(serve_deliveries())
            try:
                await Collector(sink.emit, collector_settings, gap_writer=gaps).run(stop)
            finally:
                stop.set()
                await poller
                undelivered = sink.close()
    if undelivered:
        raise PairflowError(f"{undelivered} messages were not acknowledged by the broker before shutdown")


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
        raise PairflowError(f"--to {end!r} must be after --from {start!r}")
    try:
        interval_ms(interval)
    except ValueError as error:
        raise PairflowError(f"--interval: {error}") from None
    start_logging(settings)
    console = Console(stderr=True)
    store = connect(settings.storage)
    try:
        store.init_schema()
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rows]} rows"), TimeElapsedColumn())
        with Progress(*columns, console=console) as bar:
            tasks: dict[tuple[str, str], int] = {}

            def advance(coin: str, table: str, done_ms: int, total_ms: int, rows: int) -> None:
                key = (coin, table)
                if key not in tasks:
                    tasks[key] = bar.add_task(f"{coin} {table}", total=total_ms // 60_000, rows=0)
                bar.update(tasks[key], completed=done_ms // 60_000, rows=rows)

            api = url or settings.collector.url
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
    """Add the ``collect`` and ``backfill`` commands to the root CLI."""
    app.command("collect", help=COLLECT_HELP)(collect)
    app.command("backfill", help=BACKFILL_HELP)(backfill_command)
