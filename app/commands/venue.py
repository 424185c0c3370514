"""``pairflow venue serve``: run the local Hyperliquid-compatible venue."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from app.options import ConfigOption, examples
from app.runners.until_stopped import stop_signals
from pairflow.config import load_settings, with_changes
from pairflow.errors import ConfigError
from pairflow.logs import start_logging
from venue.service import VenueOptions, VenueService, parse_funding

__all__ = ["register", "serve"]

SERVE_HELP = """Serve POST /info, POST /exchange and /ws exactly like Hyperliquid, over a simulated market.

Point the unmodified SDK at the printed URL (Info(url), Exchange(wallet, url)); it signs as testnet, which the venue verifies. Funded addresses start with that USDC in their perp account; any other address is an unknown user until it is funded.

Ctrl-C or SIGTERM stops the venue cleanly. With --data-dir it saves a snapshot (periodically and on shutdown) and the next start with the same --data-dir continues from it: accounts, orders, fills, positions, agents, nonces and the market itself.

Options left out come from the venue section of the config file or PAIRFLOW_VENUE__* variables (shown in parentheses).

\b
Examples:
  pairflow venue serve --port 8090 --fund 0x1111111111111111111111111111111111111111=100000
  pairflow venue serve --seed 42 --speed 60 --group ETH,SOL,AVAX --group BTC:1.0,LTC:1.4 --half-life 900
  pairflow venue serve --market replay --replay-from ./data/hyperliquid --speed 3600 --data-dir ./data/venue
  pairflow venue serve --market replay --replay-from store
"""


def parse_group(text: str) -> tuple[list[str], list[float]]:
    """Parse ``ETH,SOL,AVAX`` or ``ETH:1.0,SOL:1.3`` into coins and (optional) betas."""
    coins, betas = [], []
    for item in text.split(","):
        coin, _, beta = item.strip().partition(":")
        if not coin:
            raise ConfigError(f"--group {text!r} must list coins like ETH,SOL or ETH:1.0,SOL:1.3")
        coins.append(coin)
        if beta:
            try:
                betas.append(float(beta))
            except ValueError:
                raise ConfigError(f"--group {text!r}: beta {beta!r} of {coin} is not a number") from None
    if betas and len(betas) != len(coins):
        raise ConfigError(f"--group {text!r}: give a beta for every coin or for none")
    return coins, betas


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind, e.g. 127.0.0.1 or 0.0.0.0. (venue.host)")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP/WebSocket port; 0 picks a free one. (venue.port)")] = None,
    fund: Annotated[
        list[str] | None,
        typer.Option(
            "--fund",
            help="Fund an account at first start: 0xADDRESS=USDC (repeatable), e.g. --fund 0xabc…=100000.",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the market; the same seed gives the same market. (venue.seed)")] = None,
    speed: Annotated[
        float | None, typer.Option(help="Simulated seconds per wall second; 1 = real time, 60 = a minute per second. (venue.speed)")
    ] = None,
    market: Annotated[
        str | None,
        typer.Option(help="'synthetic' (factor model with cointegrated groups) or 'replay' (recorded candles). (venue.market)"),
    ] = None,
    replay_from: Annotated[
        str | None,
        typer.Option(
            help="Replay source: a directory with perp_1h_ohlcv_*.csv (+ perp_funding_1h_*.csv), one candle CSV, or 'store'."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Directory for snapshots; the venue continues from it on the next start. (venue.data_dir)")
    ] = None,
    universe: Annotated[
        Path | None,
        typer.Option(
            help="JSON universe file like venue/market/default_meta.json; default: the shipped 18 coins. (venue.universe_file)"
        ),
    ] = None,
    ephemeral: Annotated[
        bool, typer.Option("--ephemeral", help="Keep all state in memory: no snapshot is read or written.")
    ] = False,
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--group",
            help="A cointegrated group of the synthetic market, e.g. ETH,SOL,AVAX or ETH:1.0,SOL:1.3 (repeatable; "
            "replaces the default ETH/SOL/AVAX + AAVE/UNI/LINK).",
        ),
    ] = None,
    no_groups: Annotated[bool, typer.Option("--no-groups", help="No cointegrated groups: every coin walks on its own.")] = False,
    half_life: Annotated[
        float | None, typer.Option(help="Half-life of the group spreads in simulated seconds. (venue.half_life_s)")
    ] = None,
    trade_rate: Annotated[
        float | None, typer.Option(help="Mean taker orders per coin per simulated minute. (venue.trade_rate_per_minute)")
    ] = None,
    step_ms: Annotated[
        int | None,
        typer.Option(help="Simulated milliseconds between market steps; raise it with very high --speed. (venue.step_ms)"),
    ] = None,
    snapshot_interval: Annotated[
        float | None, typer.Option(help="Wall seconds between snapshots with --data-dir. (venue.snapshot_interval_s)")
    ] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus /metrics on this port (0 = off). (metrics.port)")] = None,
    config: ConfigOption = None,
) -> None:
    """Run the venue until Ctrl-C/SIGTERM (the command help is SERVE_HELP)."""
    settings = load_settings(config)
    start_logging(settings)
    venue = settings.venue
    given = {
        "host": host,
        "port": port,
        "seed": seed,
        "speed": speed,
        "market": market,
        "replay_from": replay_from,
        "data_dir": data_dir,
        "half_life_s": half_life,
        "snapshot_interval_s": snapshot_interval,
        "step_ms": step_ms,
        "universe_file": universe,
        "trade_rate_per_minute": trade_rate,
    }
    changes: dict[str, object] = {name: value for name, value in given.items() if value is not None}
    if ephemeral:
        changes["data_dir"] = None
    if fund:
        changes["fund"] = {address.lower(): usdc for address, usdc in venue.fund.items()} | parse_funding(fund)
    if no_groups:
        changes["groups"] = []
    elif group:
        changes["groups"] = [{"coins": coins, "betas": betas} for coins, betas in map(parse_group, group)]
    metrics = settings.metrics if metrics_port is None else with_changes(settings.metrics, "metrics", port=metrics_port)
    run(VenueOptions(with_changes(venue, "venue", **changes), metrics, settings.storage))


def run(options: VenueOptions) -> None:
    """Start the venue, print the start-up panel, and block until SIGINT/SIGTERM."""
    service = VenueService(options)
    with stop_signals("venue serve") as stop:
        try:
            service.start()
            console = Console()
            console.print(startup_panel(service))
            console.print(f"pairflow venue listening on {service.url}", highlight=False, soft_wrap=True)
            sys.stdout.flush()
            stop.wait()
        finally:
            snapshot = service.stop()
    message = f"venue stopped; snapshot saved to {snapshot}" if snapshot else "venue stopped"
    Console().print(message, highlight=False)


def startup_panel(service: VenueService) -> Panel:
    """Return the rich panel describing a started venue."""
    options = service.options
    venue = options.venue
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan")
    table.add_column()
    table.add_row("URL", f"{service.url}  (WebSocket {service.url.replace('http', 'ws', 1)}/ws)")
    driver = service.driver
    kind = type(driver).__name__
    table.add_row("market", f"{kind}, seed {venue.seed}, speed ×{venue.speed:g}, step {venue.step_ms} ms")
    table.add_row("universe", ", ".join(service.universe.names))
    groups = getattr(getattr(driver, "model", None), "config", None)
    if groups is not None:
        described = "; ".join(
            f"{'/'.join(group.coins)} (half-life {group.half_life_s:g}s)" for group in groups.groups
        ) or "none"
        table.add_row("cointegrated", described)
    funded = ", ".join(f"{address}={amount:,.2f}" for address, amount in options.fund.items()) or "none"
    table.add_row("funded", funded)
    state = "none (in memory only)"
    if venue.data_dir is not None:
        state = f"{venue.data_dir} ({'restored' if service.restored else 'fresh'}, every {venue.snapshot_interval_s:g}s)"
    table.add_row("data dir", state)
    if service.metrics_port:
        table.add_row("metrics", f"http://{options.metrics.host}:{service.metrics_port}/metrics")
    return Panel(table, title="pairflow venue", subtitle="Ctrl-C to stop", expand=False)


def register(app: typer.Typer) -> None:
    """Add the ``venue`` command group (``venue serve``) to the root CLI."""
    venue_app = typer.Typer(help="The local Hyperliquid-compatible venue (paper and demo modes)."
                            + examples("pairflow venue serve --port 8090 --speed 60"), no_args_is_help=True)
    venue_app.command("serve", help=SERVE_HELP)(serve)
    app.add_typer(venue_app, name="venue")
