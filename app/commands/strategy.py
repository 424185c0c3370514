"""``pairflow strategy``: the strategy as its own process, reading bars from the broker (distributed mode)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import typer
from pydantic import ValidationError

from app.options import ConfigOption
from app.runners.until_stopped import run_until_stopped
from flows.ingest import prepare_recovery, tune_gc_for_throughput
from flows.strategy import STRATEGY_TOPICS, resolve_spreads, strategy_dataflow, universe_pairs
from pairflow.config import Settings, load_settings
from pairflow.errors import ConfigError
from pairflow.events import TOPIC_OF, Signal
from pairflow.hyperliquid.schemas import interval_ms
from pairflow.logs import get_logger, start_logging
from pairflow.metrics import serve_metrics
from pairflow.storage import connect
from pairflow.topics import prepare_topics
from sources.time_ordered_source import ORDER_WINDOW, time_ordered_source

__all__ = ["apply_pairs_option", "register"]

log = get_logger(__name__)

# The topics are read in event-time order (sources.time_ordered_source), so a backlog comes out sorted
# (within sources.time_ordered_source.ORDER_WINDOW places of each partition's order);
# live, legs published at slightly different moments still reach a spread apart, and it holds them
# HOLD_BARS bar intervals for each other (unless strategy.reorder_ms is set).
HOLD_BARS = 60


def apply_pairs_option(settings: Settings, pairs: str | None) -> None:
    """Set the spreads given with ``--pairs`` (validated like the config) and the default leg hold time."""
    if pairs is not None:
        try:
            settings.strategy.pairs = [pair.strip() for pair in pairs.split(",") if pair.strip()]
        except ValidationError as error:
            raise ConfigError(f"--pairs: {error.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    if "reorder_ms" not in settings.strategy.model_fields_set:
        settings.strategy.reorder_ms = HOLD_BARS * interval_ms(settings.strategy.bar_interval)


def register(app: typer.Typer) -> None:
    """Add the ``strategy`` command to the pairflow CLI."""
    app.command("strategy")(strategy)


def strategy(
    pairs: str | None = typer.Option(
        None, "--pairs", help="Spreads to trade, e.g. ETH/SOL,AAVE/UNI/LINK; default: the strategy.universe setting."
    ),
    brokers: str | None = typer.Option(
        None,
        "--brokers",
        help="Read md.bars, md.books, md.funding, md.fees, md.delistings, md.ctx, pf.pair_stats and pf.params from "
             "these brokers; default: broker settings.",
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="Bytewax worker threads in this process."),
    recovery_dir: Path | None = typer.Option(
        None,
        "--recovery-dir",
        help="Directory of Bytewax recovery snapshots (models included); resume from it after a crash. Another "
             "command's directory is refused.",
    ),
    snapshot_interval: float = typer.Option(
        2.0, "--snapshot-interval", min=0.05, help="Seconds between recovery snapshots (and epochs)."
    ),
    until_end: bool = typer.Option(
        False, "--until-end", help="Stop once every topic partition has been read instead of waiting for more."
    ),
    config: ConfigOption = None,
) -> None:
    """Turn bars into signals per spread: stored in the signals table and published on pf.signals.

    The spreads are --pairs, else the newest scan's accepted ones
    (strategy.universe = pair_stats), else strategy.pairs; with
    collector.coins set, a spread with another coin is refused by name.
    Topic partitions are merged in event-time order, a partition still being
    fetched holding the others back, so a backlog (or a resume) gives the
    signals of an uninterrupted run. Unless strategy.reorder_ms is set, each spread also
    holds its legs' bars up to 60 bar intervals for each other (a leg that
    stops printing delays its spread that long).
    With --recovery-dir a killed process resumes with its models where its
    last snapshot left off.

    \b
    Examples:
      pairflow strategy --pairs ETH/SOL,AAVE/UNI/LINK --brokers 127.0.0.1:9092
      pairflow strategy --recovery-dir data/recovery/strategy --until-end
    """
    settings = load_settings(config)
    apply_pairs_option(settings, pairs)
    recovery = prepare_recovery(recovery_dir, "pairflow strategy") if recovery_dir is not None else None
    start_logging(settings)
    tune_gc_for_throughput()
    if settings.metrics.port:
        serve_metrics(settings.metrics.port, settings.metrics.host)
    with connect(settings.storage) as store:
        store.init_schema()
        names = settings.strategy.pairs if pairs is not None else universe_pairs(settings.strategy, store)
    # A spread with a coin outside the configured collection would never see a bar: refuse it by name. With a
    # top-N collector (no collector.coins) the stage refuses it once md.ctx has shown which coins are collected,
    # and takes it back if a restarted collector collects them.
    spreads = resolve_spreads(names, listed=settings.collector.coins or None)
    if not spreads:
        raise ConfigError("no spreads to trade: pass --pairs, set strategy.pairs, or run `pairflow scan`")
    addresses = (brokers or settings.broker.bootstrap_servers).split(",")
    settings.broker = settings.broker.model_copy(update={"bootstrap_servers": ",".join(addresses)})
    prepare_topics(settings.broker, (*STRATEGY_TOPICS, TOPIC_OF[Signal]))
    log.info("strategy starting", spreads=["/".join(legs) for legs in spreads], brokers=addresses, workers=workers)
    stop = threading.Event()
    source = time_ordered_source(addresses, STRATEGY_TOPICS, tail=not until_end, window=ORDER_WINDOW, stop=stop)
    flow = strategy_dataflow(settings, spreads, source, workers=workers)
    run_until_stopped(flow, workers, timedelta(seconds=snapshot_interval), recovery, stop=stop)


