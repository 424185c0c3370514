"""Build the trading desk from settings: signer, exchange client, router, journal, desk (demo and `pairflow trade`)."""

from __future__ import annotations

from pathlib import Path

from operators.risk_checks import RiskLimits
from pairflow.clock import WALL_CLOCK, Clock
from pairflow.config import Settings
from pairflow.control import Control
from pairflow.hyperliquid.exchange_client import ExchangeClient
from pairflow.hyperliquid.signer import L1Signer
from pairflow.hyperliquid.urls import is_mainnet
from sinks.desk import Desk
from sinks.execution import OrderRouter, RouterConfig
from sinks.executor import HyperliquidExecutor
from sinks.order_journal import OrderJournal
from sinks.spread_journal import SpreadJournal
from sources.user_stream import UserStreamThread

__all__ = ["desk_factory"]


def desk_factory(settings: Settings, url: str, private_key: bytes, account: str, data_dir: Path,
                 clock: Clock = WALL_CLOCK, control: Control | None = None):
    """Return a function building the desk for ``account`` signed by ``private_key`` against ``url``.

    The cloid journal lives in ``data_dir/execution`` per account; the kill
    file is looked for in ``data_dir``; ``control`` carries the operator's pause and flatten from the API.
    The desk follows the account's fills over the user stream at ``url``. It takes over the spreads
    an earlier run of the account left open, from the spread journal beside the cloid journal.
    """
    execution = settings.execution

    def build() -> Desk:
        signer = L1Signer(private_key, is_mainnet=is_mainnet(url))
        executor = HyperliquidExecutor(ExchangeClient(url, signer), account)
        journal = OrderJournal(data_dir / "execution" / f"cloids-{account.lower()}")
        spreads = SpreadJournal(data_dir / "execution" / f"spreads-{account.lower()}")
        router = OrderRouter(executor, executor.rules, journal, limits=RiskLimits.from_settings(execution),
                             config=RouterConfig.from_settings(execution), clock=clock)
        desk = Desk(router, executor, executor.rules, capital=execution.capital_usd, control_dir=data_dir,
                    clock=clock, reconcile_interval_s=execution.reconcile_interval_s,
                    bar_interval=settings.strategy.bar_interval, max_var_99=execution.max_var_99,
                    control=control, stream=UserStreamThread(url, account).start(), spread_journal=spreads)
        if journal.sent:
            desk.adopt(*spreads.spreads(journal.sent))
        return desk

    return build
