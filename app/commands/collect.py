"""``pairflow collect``: market data from Hyperliquid (or the local venue) into the broker topics."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from confluent_kafka import KafkaException

from app.coins import check_coins
from app.options import CoinsOption, ConfigOption, UrlOption, examples, override_collector
from pairflow.config import CollectorSettings, Settings, load_settings
from pairflow.errors import PairflowError
from pairflow.events import MARKET_TOPICS
from pairflow.logs import get_logger, start_logging
from pairflow.metrics import serve_metrics
from sinks.kafka import KafkaSink
from sources.collector import Collector
from sources.resume import last_published_trades

__all__ = ["COLLECT_HELP", "register"]

log = get_logger(__name__)

_POLL_SINK_S = 0.2

COLLECT_HELP = (
    "Stream trades, L2 books, BBO, candles and asset contexts over WebSocket, plus contexts, funding and the fee "
    "schedule over REST, into the broker topics md.* (broker section of the config). Reconnects by itself with "
    "backoff, re-fetches candles and funding missed during an outage, and records every gap on md.gaps (the "
    "ingest flow stores them in the `gaps` table). A kill (even SIGKILL) loses the messages the broker had not "
    "acknowledged, never silently: on restart the hole from the last trade on md.trades, per coin given with "
    "--coins, is handled like an outage. Ctrl-C or SIGTERM stops it (exit 0) once the broker has "
    "acknowledged every message sent."
) + examples("pairflow collect --url mainnet --top 10", "pairflow collect --url http://127.0.0.1:3001 --coins ETH,SOL,AVAX")


def collect(
    url: UrlOption = None,
    coins: CoinsOption = None,
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
    check_coins(collector_settings.url, collector_settings.coins)
    if settings.metrics.port:
        serve_metrics(settings.metrics.port, settings.metrics.host)
    asyncio.run(_collect(settings, collector_settings))


async def _collect(settings: Settings, collector_settings: CollectorSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        resume = last_published_trades(settings.broker.bootstrap_servers, collector_settings.coins)
    except KafkaException as error:
        raise PairflowError(f"cannot read where the last run stopped from md.trades on the broker: {error}") from None
    sink = KafkaSink(settings.broker, topics=MARKET_TOPICS)

    async def serve_deliveries() -> None:
        while not stop.is_set():
            sink.poll(0)
            await asyncio.sleep(_POLL_SINK_S)

    poller = asyncio.create_task(serve_deliveries())
    try:
        await Collector(sink.emit, collector_settings, resume=resume).run(stop)
    finally:
        stop.set()
        await poller
        undelivered = sink.close()
    if undelivered:
        raise PairflowError(f"{undelivered} messages were not acknowledged by the broker before shutdown")
    log.info("collector stopped: every message was acknowledged by the broker")


def register(app: typer.Typer) -> None:
    """Add the ``collect`` command to the root CLI."""
    app.command("collect", help=COLLECT_HELP)(collect)
