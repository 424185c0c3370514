"""``pairflow scan``: find cointegrated pairs and baskets in stored candles and record every verdict."""

from __future__ import annotations

import dataclasses
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from msgspec.structs import replace
from rich.console import Console
from rich.table import Table

from app.commands.backfill import parse_day
from app.options import ConfigOption, examples, parse_coins
from operators.scan import ScanConfig, ScanResult, build_panel, scan
from pairflow.clock import WALL_CLOCK, Clock
from pairflow.config import BrokerSettings, StorageSettings, load_settings
from pairflow.errors import ConfigError, PairflowError
from pairflow.events import TOPIC_OF, PairStats
from pairflow.logs import get_logger, start_logging
from pairflow.storage import BatchWriter, Store, connect
from sinks.kafka import deliver
from sources.scan_universe import latest_accepted_spreads

__all__ = ["SCAN_HELP", "publish_accepted", "record_scan", "register", "stored_candles", "to_pair_stats"]

log = get_logger(__name__)

SCAN_HELP = (
    "Scan stored candles for cointegrated pairs and baskets: liquidity filter, log-return correlation, "
    "clustering (hierarchical on 1 - rho, or PCA + OPTICS), Engle-Granger both ways and Johansen per candidate "
    "pair, Johansen on groups of 3+ coins, half-life, Hurst and mean crossings, Benjamini-Hochberg across every "
    "Engle-Granger test. Every candidate, accepted or not (with the reason), is written to `pair_stats`."
) + examples(
    "pairflow scan --interval 1h --from 2024-09-01 --to 2024-10-01",
    "pairflow scan --universe ETH,SOL,AVAX,BTC --cluster optics --format json",
    "pairflow scan --interval 1m --publish",
)


def scan_command(
    start: Annotated[str | None, typer.Option("--from", help="First day (UTC), e.g. 2024-09-01; default: all.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Day after the last one (UTC, exclusive).")] = None,
    interval: Annotated[str, typer.Option("--interval", help="Candle interval to scan, as stored (e.g. 1h).")] = "1h",
    universe: Annotated[
        str | None, typer.Option("--universe", help="Comma-separated coins; default: every coin with candles.")
    ] = None,
    min_volume: Annotated[
        float, typer.Option("--min-volume", help="Minimum median traded notional per bar (close x volume).")
    ] = 0.0,
    fdr: Annotated[float, typer.Option("--fdr", help="False discovery rate Q of the Benjamini-Hochberg step.")] = 0.05,
    cluster: Annotated[
        str, typer.Option("--cluster", help="Candidate pairs: hierarchical, optics (PCA + OPTICS) or none (all).")
    ] = "hierarchical",
    output: Annotated[str, typer.Option("--format", help="table or json (on stdout).")] = "table",
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Directory for a correlation heatmap and spread/z-score PNGs.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows in the table (json lists every candidate).")] = 20,
    publish: Annotated[bool, typer.Option(
        "--publish",
        help="Also publish the accepted pairs and baskets on pf.pair_stats (broker settings): a running "
             "`pairflow strategy` adds the new ones and re-admits one ADWIN retired.",
    )] = False,
    config: ConfigOption = None,
) -> None:
    """Run a scan on stored candles (see SCAN_HELP)."""
    if output not in ("table", "json"):
        raise ConfigError(f"--format {output!r} must be table or json")
    try:
        scan_config = ScanConfig(fdr=fdr, min_volume=min_volume, cluster=cluster)  # type: ignore[arg-type]
    except ValueError as error:
        raise ConfigError(f"scan options: {error}") from None
    start_ms = parse_day(start, "--from") if start else None
    end_ms = parse_day(end, "--to") - 1 if end else None
    coins = parse_coins(universe) or None
    settings = load_settings(config)
    start_logging(settings, sys.stderr)
    store = connect(settings.storage)
    try:
        store.init_schema()
        panel = build_panel(stored_candles(store, interval, start_ms, end_ms, coins))
        for coin in coins or ():
            if coin not in panel.coins and coin not in panel.excluded:
                panel.excluded[coin] = f"no {interval} candles in the range"
        if len(panel.coins) < 2:
            raise PairflowError(f"fewer than two coins have {interval} candles in the range; load some with "
                                "`pairflow backfill` or `pairflow data import`")
        scan_id, result = record_scan(store, settings.storage, scan(panel, scan_config), interval)
        if publish:
            publish_accepted(settings.broker, latest_accepted_spreads(store, interval))
    finally:
        store.close()
    if output == "json":
        typer.echo(json.dumps(_as_json(result, scan_id, interval), indent=1))
    else:
        _print_table(result, scan_id, interval, limit)
    if plot is not None:
        from app.scan_plots import plot_scan

        paths = plot_scan(result, panel, plot)
        Console(stderr=True).print(f"wrote {len(paths)} charts to {plot}")


def publish_accepted(settings: BrokerSettings, accepted: list[PairStats]) -> None:
    """Send a scan's accepted pairs and baskets to running strategies on ``pf.pair_stats``; raise when the broker did not take them."""
    deliver(settings, TOPIC_OF[PairStats], [(stats.pair, stats) for stats in accepted], "accepted spreads")


def record_scan(store: Store, storage: StorageSettings, result: ScanResult, interval: str,
                clock: Clock = WALL_CLOCK) -> tuple[str, ScanResult]:
    """Write every candidate of ``result`` to ``pair_stats`` under a new scan id; return the id and the result as stored.

    The rows and the id are stamped with ``clock``'s time, not the machine's: a
    demo's market runs on the venue's clock, and the newest scan (the one a
    strategy trades) is the one with the latest stamp among the bars it scanned.
    """
    now_ms = clock.now_ms()
    scan_id = f"{datetime.fromtimestamp(now_ms / 1000, UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    recorded = dataclasses.replace(result, spreads=to_pair_stats(result, scan_id, interval, now_ms))
    writer = BatchWriter(store, "pair_stats", settings=storage, background=False)
    try:
        writer.add_many(recorded.spreads)
        writer.flush()
    finally:
        writer.close()
    return scan_id, recorded


def stored_candles(store: Store, interval: str, start_ms: int | None, end_ms: int | None,
                   coins: list[str] | None) -> list[tuple[str, int, float, float]]:
    """Return ``(coin, ts, close, volume)`` of the stored candles of ``interval`` in the range (all coins if None)."""
    where = ["interval = {interval:String}"]
    params: dict[str, object] = {"interval": interval}
    if start_ms is not None:
        where.append("ts >= {start:Int64}")
        params["start"] = start_ms
    if end_ms is not None:
        where.append("ts <= {end:Int64}")
        params["end"] = end_ms
    if coins:
        where.append("coin IN {coins:Array(String)}")
        params["coins"] = coins
    return store.query(f"SELECT coin, ts, close, volume FROM candles FINAL WHERE {' AND '.join(where)}", params)


def to_pair_stats(result: ScanResult, scan_id: str, interval: str, now_ms: int) -> list[PairStats]:
    """Stamp every candidate of a scan with the scan's id, interval and time, as ``pair_stats`` stores it."""
    return [replace(spread, id=f"{scan_id}:{spread.pair}", ts=now_ms, recv_ts=now_ms, scan_id=scan_id,
                    interval=interval) for spread in result.spreads]


def _as_json(result: ScanResult, scan_id: str, interval: str) -> dict[str, object]:
    return {
        "scan_id": scan_id, "interval": interval, "parameters": result.config.as_dict(),
        "coins": result.coins, "excluded": result.excluded, "observations": len(result.times),
        "tests": result.tests, "accepted": len(result.accepted),
        "spreads": msgspec.to_builtins(result.spreads),
    }


def _number(value: float | int | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _print_table(result: ScanResult, scan_id: str, interval: str, limit: int) -> None:
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=200)
    table = Table(title=f"scan {scan_id}: {len(result.coins)} coins, {len(result.times)} {interval} bars, "
                        f"{result.tests} Engle-Granger tests, {len(result.accepted)} accepted at FDR {result.config.fdr:g}")
    for name in ("#", "spread", "kind", "ok", "q", "EG p", "Johansen / crit", "half-life", "Hurst", "cross", "weights", "reason"):
        table.add_column(name, no_wrap=name != "reason")
    for spread in result.spreads[:limit]:
        table.add_row(
            str(spread.rank), spread.pair, spread.kind, "yes" if spread.accepted else "no", _number(spread.qvalue),
            _number(spread.eg_pvalue), f"{_number(spread.johansen_trace)} / {_number(spread.johansen_trace_critical)}",
            _number(spread.half_life), _number(spread.hurst, 2), _number(spread.crossings, 6),
            " ".join(f"{w:+.3g}" for w in spread.weights), spread.reason,
            style="green" if spread.accepted else None,
        )
    console.print(table)
    for coin, reason in result.excluded.items():
        console.print(f"excluded {coin}: {reason}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``scan`` command to the root CLI."""
    app.command("scan", help=SCAN_HELP)(scan_command)
