"""``pairflow demo``: the whole data plane in one process, no external services.

A local venue runs a synthetic market; the collector subscribes to it over
the real Hyperliquid WebSocket API exactly as it would to the exchange; the
Bytewax ingest flow derives bars and book snapshots; everything lands in an
embedded chDB database that stays on disk for analysis afterwards.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from app.options import override_collector
from app.runners.embedded import EmbeddedIngest
from pairflow.config import load_settings
from pairflow.logs import start_logging
from pairflow.metrics import serve_metrics
from pairflow.storage import Store, connect
from venue.service import VenueOptions, VenueService

__all__ = ["register"]

# Tables the live view counts, in pipeline order.
COUNTED_TABLES = ("trades", "bbo", "candles", "asset_ctx", "bars_1s", "bars_1m", "l2_snapshots", "gaps")


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the pairflow CLI."""
    app.command("demo")(demo)


def demo(
    duration: float = typer.Option(
        0.0, "--duration", min=0.0, help="Stop after this many seconds; 0 runs until Ctrl-C."
    ),
    data_dir: Path = typer.Option(
        Path("data/demo"), "--data-dir", help="Where the chDB database, venue snapshot and dead letters live."
    ),
    coins: str = typer.Option(
        "BTC,ETH,SOL,AVAX,AAVE,UNI,LINK,DOGE",
        "--coins",
        help="Comma-separated coins to collect (the venue lists 18; ETH/SOL/AVAX and AAVE/UNI/LINK are cointegrated).",
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the synthetic market: the same seed replays the same market."),
    speed: float = typer.Option(1.0, "--speed", min=0.01, help="Simulated seconds per wall second."),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Venue port; 0 picks a free one."),
    refresh: float = typer.Option(1.0, "--refresh", min=0.1, help="Seconds between screen updates."),
    config: Path | None = typer.Option(
        None, "--config", help="TOML config file (default: $PAIRFLOW_CONFIG or ./pairflow.toml)."
    ),
) -> None:
    """Run the embedded demo: venue + synthetic market + collector + ingest flow + chDB.

    The screen shows what reached storage, per coin and per table, so you can
    watch trades become 1s/1m bars and book snapshots. Everything is kept in
    --data-dir; stop with Ctrl-C (or --duration) and query it afterwards, e.g.
    `PAIRFLOW_STORAGE__DSN=chdb:///data/demo/chdb pairflow db status`.
    """
    data_dir = data_dir.resolve()
    settings = load_settings(config)
    settings.storage.dsn = f"chdb://{data_dir / 'chdb'}"
    settings.storage.spill_dir = data_dir / "spill"
    if settings.logging.level == "INFO":
        # Info lines would scroll the live view away; warnings and errors still show.
        settings.logging.level = "WARNING"
    settings.collector = override_collector(settings.collector, coins=coins)
    start_logging(settings)
    console = Console()
    metrics = f" · metrics :{serve_metrics(settings.metrics.port, settings.metrics.host)}" if settings.metrics.port else ""

    options = replace(
        VenueOptions.from_settings(settings),
        port=port,
        seed=seed,
        speed=speed,
        data_dir=data_dir / "venue",
        storage=None,
        metrics_port=0,
    )
    venue = VenueService(options)
    url = venue.start()
    settings.collector.url = url

    store = connect(settings.storage)
    store.init_schema()
    ingest = EmbeddedIngest(settings, data_dir / "dead-letters", epoch=timedelta(seconds=1))
    ingest.start()
    started = time.monotonic()
    console.print(
        f"[bold]pairflow demo[/] venue {url} · storage {data_dir / 'chdb'}{metrics} · "
        f"{'Ctrl-C to stop' if not duration else f'{duration:g} s'}"
    )
    try:
        with Live(console=console, refresh_per_second=4, transient=True) as live:
            while not duration or time.monotonic() - started < duration:
                if ingest.failure() is not None:
                    break
                live.update(render(store, settings.collector.coins, url, time.monotonic() - started))
                time.sleep(refresh)
    except KeyboardInterrupt:
        console.print("stopping ...")
    finally:
        try:
            ingest.stop()
        finally:
            venue.stop()
    console.print(render(store, settings.collector.coins, url, time.monotonic() - started))
    store.close()
    console.print(f"data kept in {data_dir}; dead letters in {data_dir / 'dead-letters'}")


def render(store: Store, coins: list[str], url: str, elapsed: float) -> Group:
    """Build the live view: rows per table, and per coin the latest stored market state."""
    counts = Table(title="rows stored", show_edge=False)
    for table in COUNTED_TABLES:
        counts.add_column(table, justify="right")
    counts.add_row(*(f"{store.count(table):,}" for table in COUNTED_TABLES))

    per_coin = Table(title="latest per coin (from ClickHouse)", show_edge=False)
    for name in ("coin", "trades", "last px", "1m bars", "1m vwap", "spread bps", "imbalance", "funding bp/h"):
        per_coin.add_column(name, justify="right" if name != "coin" else "left")
    stats = _coin_stats(store)
    for coin in coins:
        row = stats.get(coin, {})
        per_coin.add_row(
            coin,
            _fmt(row.get("trades"), "{:,}"),
            _fmt(row.get("last_px"), "{:,.6g}"),
            _fmt(row.get("bars"), "{:,}"),
            _fmt(row.get("vwap"), "{:,.6g}"),
            _fmt(row.get("spread_bps"), "{:.2f}"),
            _fmt(row.get("imbalance"), "{:+.2f}"),
            _fmt(None if row.get("funding") is None else row["funding"] * 1e4, "{:.4f}"),
        )
    header = Panel.fit(f"venue {url}   elapsed {elapsed:,.0f} s", title="pairflow demo")
    return Group(header, counts, per_coin)


def _coin_stats(store: Store) -> dict[str, dict[str, object]]:
    stats: dict[str, dict] = {}
    queries = {
        "trades": "SELECT coin, count() AS trades, argMax(px, ts) AS last_px FROM trades FINAL GROUP BY coin",
        "bars": "SELECT coin, count() AS bars, argMax(vwap, ts) AS vwap FROM bars_1m FINAL GROUP BY coin",
        "book": "SELECT coin, argMax(spread_bps, ts) AS spread_bps, argMax(imbalance, ts) AS imbalance "
        "FROM l2_snapshots FINAL GROUP BY coin",
        "ctx": "SELECT coin, argMax(funding, ts) AS funding FROM asset_ctx FINAL GROUP BY coin",
    }
    for sql in queries.values():
        for row in store.query_dicts(sql):
            stats.setdefault(row["coin"], {}).update(row)
    return stats


def _fmt(value: object, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)
