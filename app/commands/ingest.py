"""``pairflow ingest``: run the ingest dataflow, embedded or against a broker."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import typer
from bytewax.recovery import RecoveryConfig
from bytewax.run import cli_main

from app.coins import check_coins
from app.options import ConfigOption, UrlOption, override_collector, usable_directory
from app.runners.embedded import collecting_flow
from app.runners.until_stopped import run_until_stopped, stop_signals
from flows.ingest import LOG_START, IngestRun, ingest_dataflow, prepare_recovery, tune_gc_for_throughput
from pairflow.config import Settings, load_settings
from pairflow.errors import ConfigError, PairflowError
from pairflow.events import MARKET_TOPICS
from pairflow.logs import get_logger, start_logging
from pairflow.metrics import serve_metrics
from pairflow.storage import connect
from pairflow.topics import prepare_topics
from sources.journal import Journal
from sources.kafka_source import market_data_source

__all__ = ["register"]

log = get_logger(__name__)


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` command to the pairflow CLI."""
    app.command("ingest")(ingest)


def ingest(
    embedded: bool = typer.Option(
        False,
        "--embedded",
        help="Run the Hyperliquid collector in this process and feed the flow directly (no broker).",
    ),
    url: UrlOption = None,
    coins: str | None = typer.Option(
        None, "--coins", help="Embedded mode: comma-separated coins to collect, e.g. BTC,ETH (collector.coins)."
    ),
    brokers: str | None = typer.Option(
        None,
        "--brokers",
        help="Read the md.* topics from these brokers (HOST:PORT[,HOST:PORT]); default: broker settings.",
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="Bytewax worker threads in this process."),
    recovery_dir: Path | None = typer.Option(
        None,
        "--recovery-dir",
        help="Directory of Bytewax recovery snapshots (and, with --embedded, the journal); resume from it after a "
        "crash (created on first use; another command's or mode's directory is refused).",
    ),
    snapshot_interval: float = typer.Option(
        2.0, "--snapshot-interval", min=0.05, help="Seconds between recovery snapshots (and epochs)."
    ),
    dead_letter_dir: Path = typer.Option(
        Path("data/dead-letters"), "--dead-letter-dir", help="Where rejected records are written as JSON lines."
    ),
    until_end: bool = typer.Option(
        False,
        "--until-end",
        help="Broker mode: stop once every topic partition has been read instead of waiting for more.",
    ),
    config: ConfigOption = None,
) -> None:
    """Store market data in ClickHouse and derive 1s/1m bars and book snapshots.

    Reads the md.* topics from a broker (distributed mode, which also
    publishes the bars on md.bars and book snapshots on md.books for a
    strategy process) or runs the collector in-process (--embedded). Malformed records go to the dead-letter
    directory. What a kill of this process (even SIGKILL) costs:

    \b
    * broker mode, --recovery-dir: nothing; the restart reads on from the last
      snapshot and stores every record once.
    * --embedded --recovery-dir: nothing the collector had received; every event
      is appended to <recovery-dir>/journal before the flow sees it (written to
      the OS, not fsynced: an OS crash or power loss may lose the last writes).
    * --embedded alone: events still queued in memory are lost, but not silently;
      the restart rebuilds the bars open at the kill from the stored trades first.

    In embedded mode the time the process was down is accounted for on restart,
    per coin given with --coins (or collector.coins): trades the venue replays
    on subscribe fill it where they reach back, the rest is a trade gap in the
    `gaps` table, candles and funding are fetched again over REST, and 1s/1m
    bars overlapping an unfilled trade gap are stored with incomplete = true.
    In broker mode, a start without recovered state stores each coin's bars
    that began before its first trade in the log with incomplete = true: the
    trades before the log's start are unknown.

    \b
    Examples:
      pairflow ingest --embedded --url http://127.0.0.1:3001 --coins BTC,ETH
      pairflow ingest --recovery-dir data/recovery
    """
    settings = load_settings(config)
    if embedded and brokers:
        raise ConfigError("--embedded and --brokers exclude each other: choose one input")
    if embedded and until_end:
        raise ConfigError("--until-end stops at the end of the broker's topics; an embedded collector's input has "
                          "no end (stop it with Ctrl-C or SIGTERM)")
    if not embedded and (url or coins):
        raise ConfigError("--url and --coins choose what the embedded collector reads: add --embedded")
    settings.collector = override_collector(settings.collector, url, coins)
    usable_directory(dead_letter_dir, "--dead-letter-dir")
    recovery = None
    if recovery_dir is not None:
        usable_directory(recovery_dir, "--recovery-dir")
        recovery = prepare_recovery(recovery_dir, "pairflow ingest --embedded" if embedded else "pairflow ingest")
    start_logging(settings)
    if embedded:
        check_coins(settings.collector.url, settings.collector.coins)
    tune_gc_for_throughput()
    if settings.metrics.port:
        serve_metrics(settings.metrics.port, settings.metrics.host)
    with connect(settings.storage) as store:
        store.init_schema()
    epoch = timedelta(seconds=snapshot_interval)
    if embedded:
        journal = Journal(recovery_dir / "journal", report_progress=True) if recovery_dir is not None else None
        _run_embedded(settings, dead_letter_dir, workers, epoch, recovery, journal)
        return
    addresses = (brokers or settings.broker.bootstrap_servers).split(",")
    settings.broker = settings.broker.model_copy(update={"bootstrap_servers": ",".join(addresses)})
    prepare_topics(settings.broker, MARKET_TOPICS)
    log.info("ingest starting", mode="distributed", brokers=addresses, workers=workers, recovery=str(recovery_dir))
    stop = threading.Event()
    source = market_data_source(addresses, tail=not until_end, stop=stop, report_progress=True)
    flow = ingest_dataflow(settings, source, dead_letter_dir, workers=workers, publish_bars=True,
                           run=IngestRun(seeds=LOG_START))
    run_until_stopped(flow, workers, epoch, recovery, stop=stop)


def _run_embedded(
    settings: Settings,
    dead_letter_dir: Path,
    workers: int,
    epoch: timedelta,
    recovery: RecoveryConfig | None,
    journal: Journal | None,
) -> None:
    collecting, flow = collecting_flow(settings, dead_letter_dir, journal=journal, workers=workers)
    # A stop signal ends the input rather than interrupting Bytewax: the flow stores everything already
    # collected and returns normally.
    with stop_signals("ingest", then=lambda: collecting.stop(timeout=0)):
        collecting.start()
        log.info("ingest starting", mode="embedded", workers=workers, recovery=recovery is not None)
        try:
            cli_main(flow, workers_per_process=workers, epoch_interval=epoch, recovery_config=recovery)
        finally:
            collecting.stop()
    if collecting.failure() is not None:
        raise PairflowError(f"collector stopped: {collecting.failure()}")
    log.info("ingest stopped: everything collected is stored")
