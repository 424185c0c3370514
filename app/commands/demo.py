"""``pairflow demo``: the whole data plane in one process, no external services.

A local venue runs a synthetic market; the collector subscribes to it over
the real Hyperliquid WebSocket API exactly as it would to the exchange; the
Bytewax ingest flow derives bars and book snapshots, and the strategy stage
in the same dataflow turns the bars into Kalman spreads, z-scores and
signals, and the execution stage trades them on the venue with a throwaway
paper account (netting, inline risk, the order router; fills, PnL and VaR
from the account's own fills); everything lands in an embedded chDB database
that stays on disk for analysis afterwards.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import eth_account
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from app.coins import ensure_listed
from app.options import ConfigOption, override_collector, usable_directory
from app.runners.api import api_server
from app.runners.embedded import EmbeddedIngest
from app.runners.rescans import SCAN_INTERVAL, PeriodicRescan, rescan, scan_stored
from app.runners.trading import desk_factory
from app.runners.until_stopped import stop_signals
from flows.execution import chain_trading
from flows.strategy import resolve_spreads, universe_pairs
from operators.scan import ScanConfig
from pairflow.clock import WALL_CLOCK, Clock
from pairflow.config import MetricsSettings, Settings, load_settings, with_changes
from pairflow.control import Control
from pairflow.logs import start_logging
from pairflow.metrics import serve_metrics
from pairflow.pause_file import PAUSE_FILE
from pairflow.storage import Store, connect
from venue.market.synthetic import DEFAULT_GROUPS
from venue.service import VenueOptions, VenueService

__all__ = ["register"]

# Tables the live view counts, in pipeline order.
COUNTED_TABLES = ("trades", "bbo", "candles", "asset_ctx", "bars_1s", "bars_1m", "l2_snapshots", "gaps", "signals",
                  "intents", "orders", "fills", "pnl", "risk_metrics", "alerts")

# A demo runs minutes, not days: strategy settings the config file leaves unset get these.
# The venue's default pace (12 taker orders per coin a minute) fills few 1 s bars: at
# --speed 1 the spreads would take minutes to warm up. A first run should trade within one.
DEMO_TRADE_RATE_PER_MINUTE = 60.0

DEMO_STRATEGY = {
    "bar_interval": "1s",
    "warmup_rows": 20,
    "zscore_window": 30,
    "staleness_ms": 30_000,
    "max_gap_ms": 120_000,
    "heartbeat_rows": 10,
}


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
    api_port: int | None = typer.Option(
        None, "--api-port", min=0, max=65535,
        help="Port of the API and web UI; 0 picks a free one, as does a port already taken. (api.port)",
    ),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", min=0, max=65535, help="Serve Prometheus /metrics on this port; 0 = off. (metrics.port)"
    ),
    rescan_every: float = typer.Option(
        900.0, "--rescan-every", min=0.0,
        help="Seconds of market time (the venue's clock, --speed times the wall) between rescans of the stored 1m "
             "candles while running; the strategy adds the spreads a rescan accepts and re-admits one ADWIN retired. "
             "0 = scan at start only; off with strategy.universe = config.",
    ),
    config: ConfigOption = None,
) -> None:
    """Run the embedded demo: venue + synthetic market + collector + ingest and strategy flow + chDB + API and web UI.

    The screen shows what reached storage, per coin and per table, so you can
    watch trades become 1s/1m bars and book snapshots, and per spread the
    hedge ratio, z-score and signals of the strategy. At start it scans the 1m
    candles earlier runs stored in --data-dir and trades the spreads the newest
    scan accepted; else the config's strategy.pairs; else the venue's planted
    cointegrated groups among the collected coins. Every --rescan-every it
    scans again and the running strategy adds what the new scan accepts.
    Everything is kept in --data-dir. The API and web UI are served in this process (embedded chDB
    admits one); the first line prints the UI's URL with the token to use. Stop
    with Ctrl-C, SIGTERM or --duration (exit code 0) and query it afterwards, e.g.
    `PAIRFLOW_STORAGE__DSN=chdb:///data/demo/chdb pairflow db status`.

    \b
    Examples:
      pairflow demo
      pairflow demo --duration 120 --speed 10 --coins ETH,SOL,AVAX,BTC
    """
    data_dir = usable_directory(data_dir.resolve(), "--data-dir")
    settings = load_settings(config)
    settings.storage.dsn = f"chdb://{data_dir / 'chdb'}"
    settings.storage.spill_dir = data_dir / "spill"
    if "outbox_dir" not in settings.alerting.model_fields_set:
        settings.alerting.outbox_dir = data_dir / "alerts"
    if settings.logging.level == "INFO":
        # Info lines would scroll the live view away; warnings and errors still show.
        settings.logging.level = "WARNING"
    settings.collector = override_collector(settings.collector, coins=coins)
    if metrics_port is not None:
        settings.metrics = with_changes(settings.metrics, "metrics", port=metrics_port)
    # A throwaway paper account, funded on the venue at start; its key lives in memory only.
    trader = eth_account.Account.create()
    venue_settings = with_changes(
        settings.venue, "venue", port=port, seed=seed, speed=speed, data_dir=data_dir / "venue",
        fund={**settings.venue.fund, trader.address: settings.execution.capital_usd},
    )
    if "trade_rate_per_minute" not in settings.venue.model_fields_set:
        venue_settings = with_changes(venue_settings, "venue", trade_rate_per_minute=DEMO_TRADE_RATE_PER_MINUTE)
    # The demo serves /metrics itself (one registry per process), so the venue does not.
    venue = VenueService(VenueOptions(venue_settings, MetricsSettings(port=0)))
    ensure_listed(settings.collector.coins, venue.universe.names, "the demo venue")
    start_logging(settings)
    # A container or service manager stops with SIGTERM, an operator with Ctrl-C: both are the demo's normal
    # stop, also while it starts (it then stops as soon as it has started).
    with stop_signals("demo") as stop:
        console = Console()
        metrics = f" · metrics :{serve_metrics(settings.metrics.port, settings.metrics.host)}" if settings.metrics.port else ""
        url = venue.start()
        settings.collector.url = url

        store = connect(settings.storage)
        store.init_schema()
        clock = venue.loop.clock
        found = scan_at_start(store, settings, clock) if settings.strategy.universe == "pair_stats" else "scan: off (universe = config)"
        spreads = demo_spreads(settings, store)
        control = Control(pause_file=data_dir / PAUSE_FILE)
        api, token = api_server(
            settings, store, control, port=api_port, any_port_if_taken=True, run_scan=lambda: scan_at_start(store, settings, clock),
            reports_dir=data_dir / "reports",
        )
        rescans = (
            PeriodicRescan(lambda: rescan(store, settings, clock), round(rescan_every * 1000), clock=clock)
            if rescan_every and settings.strategy.universe == "pair_stats" else None
        )
        ingest = EmbeddedIngest(
            settings,
            data_dir / "dead-letters",
            epoch=timedelta(seconds=1),
            then=chain_trading(spreads, settings, desk_factory(settings, url, bytes(trader.key), trader.address, data_dir,
                                                               clock=clock, control=control),
                               control=control, rescans=None if rescans is None else rescans.source),
            clock=clock,  # the clock the venue stamps with: lag and idle bars are measured on it
            rescans=rescans,
        )
        ingest.start()
        api_url = api.start()
        started = time.monotonic()
        console.print(f"[bold]web UI[/] {api_url}/?token={token}   (API token: {token})", soft_wrap=True)
        console.print(
            f"[bold]pairflow demo[/] venue {url} · storage {data_dir / 'chdb'}{metrics} · "
            f"{found} · spreads {', '.join('/'.join(legs) for legs in spreads) or 'none'} · "
            f"paper account {trader.address} · "
            f"{'Ctrl-C to stop' if not duration else f'{duration:g} s'}",
            soft_wrap=True,
        )
        try:
            with Live(console=console, refresh_per_second=4, transient=True) as live:
                while (not duration or time.monotonic() - started < duration) and ingest.failure() is None:
                    live.update(render(store, settings.collector.coins, url, time.monotonic() - started))
                    if stop.wait(refresh):
                        console.print("stopping ...")
                        break
        finally:
            # Freeze the market first: the trader's last pull then sees every fill and funding payment the
            # venue will ever report, so the stored PnL ends equal to the account's.
            venue.loop.stop()
            try:
                ingest.stop()
            finally:
                api.stop()
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
    return Group(header, counts, per_coin, *_strategy_tables(store), *_trading_tables(store))


def scan_at_start(store: Store, settings: Settings, clock: Clock = WALL_CLOCK) -> str:
    """Scan the 1m candles of the collected coins already stored (earlier runs in this --data-dir).

    The verdicts go to ``pair_stats`` like ``pairflow scan``'s, stamped with
    ``clock`` (the venue's in a demo); returns a line saying what was found.
    """
    found = scan_stored(store, settings, clock)
    if found is None:
        return f"scan: fewer than {ScanConfig().min_observations} {SCAN_INTERVAL} candles stored yet"
    scan_id, result = found
    accepted = sum(spread.accepted for spread in result.spreads)
    return f"scan {scan_id}: {accepted} of {len(result.spreads)} candidate spreads accepted"


def demo_spreads(settings: Settings, store: Store) -> list[tuple[str, ...]]:
    """Fill demo-scale strategy settings and return the spreads to trade among the collected coins.

    In order: the newest scan's accepted spreads (``universe = "pair_stats"``), the
    configured pairs, or else the venue's planted groups (first coin against each other).
    """
    strategy = settings.strategy
    for name, value in DEMO_STRATEGY.items():
        if name not in strategy.model_fields_set:
            setattr(strategy, name, value)
    coins = settings.collector.coins
    pairs = [pair for pair in universe_pairs(strategy, store) if set(pair.split("/")) <= set(coins)]
    if not pairs:
        groups = (
            [group.coins for group in settings.venue.groups]
            if settings.venue.groups is not None
            else [list(group) for group, _ in DEFAULT_GROUPS]
        )
        for group in groups:
            kept = [coin for coin in group if coin in coins]
            pairs += [f"{kept[0]}/{other}" for other in kept[1:]]
    return resolve_spreads(pairs, listed=coins)


def _strategy_tables(store: Store) -> tuple[Table, Table]:
    spreads = Table(title="spreads (latest signal per spread)", show_edge=False)
    for name in ("spread", "signals", "hedge ratio", "z-score", "spread (log)", "target", "last reason"):
        spreads.add_column(name, justify="left" if name in ("spread", "last reason") else "right")
    for row in store.query_dicts(
        "SELECT pair, count() AS signals, argMax(hedge_ratio, ts) AS hedge, argMax(zscore, ts) AS z,"
        " argMax(spread, ts) AS spread, argMax(target, ts) AS target, argMax(reason, ts) AS reason"
        " FROM signals FINAL GROUP BY pair ORDER BY pair"
    ):
        spreads.add_row(
            row["pair"], f"{row['signals']:,}", f"{row['hedge']:.3f}", f"{row['z']:+.2f}",
            f"{row['spread']:+.5f}", f"{row['target']:+.2f}", row["reason"],
        )
    recent = Table(title="latest decisions", show_edge=False)
    for name in ("time", "spread", "reason", "target", "z-score", "legs (coins)"):
        recent.add_column(name, justify="left" if name in ("time", "spread", "reason") else "right")
    for row in store.query_dicts(
        "SELECT time, pair, reason, target, zscore, leg_targets FROM signals FINAL"
        " WHERE reason != 'hold' ORDER BY ts DESC LIMIT 6"
    ):
        recent.add_row(
            f"{row['time']:%H:%M:%S}", row["pair"], row["reason"], f"{row['target']:+.2f}", f"{row['zscore']:+.2f}",
            " ".join(f"{size:+.4g}" for size in row["leg_targets"]),
        )
    return spreads, recent


def _trading_tables(store: Store) -> tuple[Table, Table]:
    positions = Table(title="positions and PnL (from our fills and funding)", show_edge=False)
    for name in ("scope", "position", "realised", "unrealised", "fees", "funding", "equity"):
        positions.add_column(name, justify="left" if name == "scope" else "right")
    held = {row["coin"]: row["szi"] for row in store.query_dicts(
        "SELECT coin, sum(if(side = 'B', sz, -sz)) AS szi FROM fills FINAL GROUP BY coin")}
    for row in store.query_dicts(
        "SELECT scope, argMax(realized_pnl, ts) AS r, argMax(unrealized_pnl, ts) AS u, argMax(fees, ts) AS f,"
        " argMax(funding, ts) AS fu, argMax(equity, ts) AS e FROM pnl FINAL GROUP BY scope ORDER BY scope"
    ):
        coin = row["scope"].removeprefix("coin:")
        positions.add_row(row["scope"], _fmt(held.get(coin) if coin != row["scope"] else None, "{:+.5g}"),
                          f"{row['r']:+,.2f}", f"{row['u']:+,.2f}", f"{row['f']:,.2f}", f"{row['fu']:+,.2f}",
                          f"{row['e']:+,.2f}")
    orders = Table(title="orders by status · risk", show_edge=False)
    for name in ("status", "orders", "last reason"):
        orders.add_column(name, justify="right" if name == "orders" else "left")
    for row in store.query_dicts(
        "SELECT status, count() AS n, argMax(reason, ts) AS reason FROM orders FINAL GROUP BY status ORDER BY status"
    ):
        orders.add_row(row["status"], f"{row['n']:,}", row["reason"][:60])
    for row in store.query_dicts(
        "SELECT metric, confidence, argMax(value, ts) AS v FROM risk_metrics FINAL"
        " WHERE metric IN ('var_hist', 'es_hist', 'exposure_gross', 'leverage') GROUP BY metric, confidence"
        " ORDER BY metric, confidence"
    ):
        label = row["metric"] + (f" {row['confidence']:.0%}" if row["confidence"] else "")
        orders.add_row(label, f"{row['v']:,.2f}", "")
    return positions, orders


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
