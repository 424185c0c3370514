"""``pairflow trade`` and ``pairflow kill``: ingest + strategy + execution against a venue URL, and its stop.

``trade --mode paper`` trades on a local venue (``pairflow venue serve``),
``--mode live`` on testnet or, with ``--mainnet``, on mainnet. The signing
key comes from the encrypted keystore; when it is an agent's, start-up checks
that the exchange lists it as approved for ``--account``. ``kill`` drops a
file in the trader's data directory: the running trader flattens every
position with reduce-only orders and halts. The trader serves the API and web UI
in its own process (embedded chDB admits one), printing their URL and token;
pausing or flattening there reaches its execution desk. It serves Prometheus
/metrics on metrics.port, like every long-running command.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import httpx
import typer
from eth_account import Account

from app.commands.keys import require_network, unlock_keystore
from app.options import CoinsOption, ConfigOption, override_collector, usable_directory
from app.runners.embedded import EmbeddedIngest
from app.runners.rescans import PeriodicRescan, rescan
from app.runners.api import api_server
from app.runners.trading import desk_factory, lock_account
from app.runners.until_stopped import stop_signals
from flows.execution import chain_trading
from flows.strategy import resolve_spreads, universe_pairs
from pairflow.config import load_settings
from pairflow.control import Control
from pairflow.errors import ConfigError
from pairflow.hyperliquid.urls import is_mainnet
from pairflow.logs import start_logging
from pairflow.metrics import serve_metrics
from pairflow.pause_file import PAUSE_FILE
from pairflow.storage import connect
from sinks.desk import KILL_FILE

__all__ = ["check_agent", "register"]


def check_agent(url: str, signer: str, account: str) -> None:
    """Refuse to start when ``signer`` is neither ``account`` nor an agent the exchange lists for it.

    ``account`` (``--account``) must be an address before anything uses it: it names the
    trader's journal and lock files, and it is sent to the exchange.
    """
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", account):
        raise ConfigError(f"--account must be an address, 0x and 40 hex digits; received {account!r}")
    if signer.lower() == account.lower():
        return
    agents = httpx.post(f"{url}/info", json={"type": "extraAgents", "user": account}, timeout=10).json()
    if not any(agent.get("address", "").lower() == signer.lower() for agent in agents or []):
        raise ConfigError(f"signer {signer} is not an approved agent of account {account}; "
                          "run `pairflow keys approve-agent` first")


def trade(
    mode: Annotated[str, typer.Option("--mode", help="paper (a local venue) or live (testnet/mainnet).")],
    url: Annotated[str, typer.Option("--url", help="Venue base URL, testnet or mainnet.")],
    keystore: Annotated[Path, typer.Option("--keystore", help="Keystore file of the signing (agent) key.")],
    account: Annotated[str | None, typer.Option("--account", help="Account traded; default: the signer's.")] = None,
    coins: CoinsOption = None,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Cloid journal, dead letters, alert outbox, kill file, pause file.")] = Path(
        "data/trade"),
    duration: Annotated[float, typer.Option("--duration", min=0.0, help="Stop after seconds; 0 = until Ctrl-C or SIGTERM.")] = 0.0,
    mainnet: Annotated[bool, typer.Option("--mainnet", help="Required to trade on mainnet.")] = False,
    rescan_every: Annotated[float, typer.Option(
        "--rescan-every", min=0.0,
        help="Seconds between rescans of the stored 1m candles while running; the strategy adds the spreads a "
             "rescan accepts and re-admits one ADWIN retired. 0 = off; off with strategy.universe = config.",
    )] = 900.0,
    config: ConfigOption = None,
) -> None:
    """Run ingest, strategy and execution in one process against --url with the keystore's key.

    Ctrl-C or SIGTERM stops it cleanly (exit 0): open positions are left as
    they are, and a restart with the same --data-dir sends no order twice and
    takes over the spreads left open. `pairflow kill` flattens instead. A pause,
    flatten or halt through its API is kept in --data-dir: a restart starts
    paused (or halted) until resumed through the API.

    \b
    Examples:
      pairflow trade --mode paper --url http://127.0.0.1:3001 --keystore data/keys/0x....json --coins ETH,SOL
      pairflow trade --mode live --url testnet --keystore agent.json --account 0x... --coins ETH,SOL
    """
    if mode not in ("paper", "live"):
        raise ConfigError(f"--mode must be paper or live, received {mode!r}")
    base = require_network(url, mainnet)
    if mode == "paper" and (is_mainnet(base) or "hyperliquid" in base):
        raise ConfigError("--mode paper trades on a local venue; use --mode live for testnet or mainnet")
    data_dir = usable_directory(data_dir.resolve(), "--data-dir")
    settings = load_settings(config)
    settings.collector = override_collector(settings.collector, url=base, coins=coins)
    if "outbox_dir" not in settings.alerting.model_fields_set:
        settings.alerting.outbox_dir = data_dir / "alerts"
    start_logging(settings)
    if settings.metrics.port:
        serve_metrics(settings.metrics.port, settings.metrics.host)
    # From here on a stop signal (SIGTERM, Ctrl-C) is the trader's normal stop: it stores what it has and exits 0.
    with stop_signals("trade") as stop:
        key = unlock_keystore(keystore, settings.secrets.keystore_passphrase)
        signer = Account.from_key(key).address
        account = account or signer
        check_agent(base, signer, account)
        lock = lock_account(data_dir, account)
        (data_dir / KILL_FILE).unlink(missing_ok=True)
        store = connect(settings.storage)
        store.init_schema()
        spreads = resolve_spreads(universe_pairs(settings.strategy, store), listed=settings.collector.coins)
        control = Control(pause_file=data_dir / PAUSE_FILE)
        api, token = api_server(settings, store, control, any_port_if_taken=True, reports_dir=data_dir / "reports")
        rescans = (PeriodicRescan(lambda: rescan(store, settings), round(rescan_every * 1000))
                   if rescan_every and settings.strategy.universe == "pair_stats" else None)
        desk = desk_factory(settings, base, key, account, data_dir, control=control)
        ingest = EmbeddedIngest(settings, data_dir / "dead-letters", epoch=timedelta(seconds=1),
                                then=chain_trading(spreads, settings, desk, control=control,
                                                   rescans=None if rescans is None else rescans.source),
                                rescans=rescans)
        del key
        ingest.start()
        api_url = api.start()
        typer.echo(f"web UI {api_url}/?token={token}")
        typer.echo(f"trading {', '.join('/'.join(s) for s in spreads) or 'nothing'} for {account} on {base} "
                   f"({mode}); `pairflow kill --data-dir {data_dir}` flattens and halts")
        started = time.monotonic()
        try:
            while (not duration or time.monotonic() - started < duration) and ingest.failure() is None:
                if stop.wait(0.5):
                    break
        finally:
            ingest.stop()
            api.stop()
            store.close()
            lock.close()
    typer.echo(f"trader stopped; a restart with --data-dir {data_dir} takes over the spreads left open")


def kill(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="The running trader's --data-dir.")] = Path("data/trade"),
) -> None:
    """Make the trader running with --data-dir flatten every position and halt.

    It then refuses entries until a resume through its API, also after a
    restart (the pause file in --data-dir).

    \b
    Examples:
      pairflow kill --data-dir data/trade
    """
    if not data_dir.is_dir():
        raise ConfigError(f"--data-dir {data_dir} does not exist")
    (data_dir / KILL_FILE).touch()
    typer.echo(f"kill requested in {data_dir}: the trader flattens and halts at its next batch")


def register(app: typer.Typer) -> None:
    """Add ``pairflow trade`` and ``pairflow kill`` to the CLI."""
    app.command("trade")(trade)
    app.command("kill")(kill)
