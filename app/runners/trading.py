"""Build the trading desk from settings: signer, exchange client, router, journal, desk (demo and `pairflow trade`)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO

from operators.risk_checks import RiskLimits
from pairflow.clock import WALL_CLOCK, Clock
from pairflow.config import Settings
from pairflow.control import Control
from pairflow.errors import ConfigError
from pairflow.hyperliquid.exchange_client import ExchangeClient
from pairflow.hyperliquid.signer import L1Signer
from pairflow.hyperliquid.urls import is_mainnet
from sinks.desk import Desk
from sinks.execution import OrderRouter, RouterConfig
from sinks.executor import HyperliquidExecutor
from sinks.order_journal import OrderJournal
from sinks.spread_journal import SpreadJournal
from sources.user_stream import UserStreamThread

__all__ = ["desk_factory", "lock_account"]


def lock_account(data_dir: Path, account: str) -> TextIO:
    """Take the account's lock in ``data_dir/execution``: one trader per account and journal directory.

    Why: a second trader of the account would sign with the same key, so the exchange
    (which keeps each signer's 100 highest nonces) refuses the colliding millisecond
    nonces of the two; its cloid journal and spread journal would be written by two
    processes, each restart adopting half of the other's orders; and each desk's risk
    state (netting, limits, reconciliation) counts only its own fills, so the other's
    fills look like trades made behind its back. The lock is the OS's (``flock``) on a
    file beside the journals, released when the process ends, even by SIGKILL, so a
    restart never finds a stale lock. Keep the returned file open while trading.

    Raises
    ------
    ConfigError
        When another process holds the lock.
    """
    path = data_dir / "execution" / f"lock-{account.lower()}"
    path.parent.mkdir(parents=True, exist_ok=True)
    held = path.open("a+")
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        held.seek(0)
        owner = held.read().strip() or "unknown"
        held.close()
        raise ConfigError(f"account {account} is already traded from {data_dir} by process {owner} "
                          f"(lock {path}); stop it first") from None
    held.truncate(0)
    held.write(str(os.getpid()))
    held.flush()
    return held


def desk_factory(settings: Settings, url: str, private_key: bytes, account: str, data_dir: Path,
                 clock: Clock = WALL_CLOCK, control: Control | None = None):
    """Return a function building the desk for ``account`` signed by ``private_key`` against ``url``.

    The cloid journal lives in ``data_dir/execution`` per account; it and the spread journal beside it
    are synced to the disk after each line when ``[execution] journal_fsync`` (one setting for both: a
    restart reads the two together, so a power loss must not keep a cloid and lose the spread change
    that sent it). The kill file is looked for in ``data_dir``; ``control`` carries the operator's
    pause and flatten from the API.
    The desk follows the account's fills over the user stream at ``url``. It takes over the spreads
    an earlier run of the account left open, from the spread journal beside the cloid journal.
    """
    execution = settings.execution

    def build() -> Desk:
        signer = L1Signer(private_key, is_mainnet=is_mainnet(url))
        executor = HyperliquidExecutor(ExchangeClient(url, signer), account)
        journal = OrderJournal(data_dir / "execution" / f"cloids-{account.lower()}", fsync=execution.journal_fsync)
        spreads = SpreadJournal(data_dir / "execution" / f"spreads-{account.lower()}", fsync=journal.fsync)
        router = OrderRouter(executor, executor.rules, journal, limits=RiskLimits.from_settings(execution),
                             config=RouterConfig.from_settings(execution), clock=clock)
        desk = Desk(router, executor, executor.rules, capital=execution.capital_usd, control_dir=data_dir,
                    clock=clock, reconcile_interval_s=execution.reconcile_interval_s,
                    bar_interval=settings.strategy.bar_interval, max_var_99=execution.max_var_99,
                    control=control, stream=UserStreamThread(url, account).start(), spread_journal=spreads)
        if journal.sent:
            desk.adopt(*spreads.spreads(journal.sent), spreads.last(), spreads.crosses(journal.sent))
        return desk

    return build
