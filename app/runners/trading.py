"""Build the trading desk from settings: signer, exchange client, router, journal, desk (demo and `pairflow trade`)."""

from __future__ import annotations

from pathlib import Path

from operators.risk_checks import RiskLimits
from pairflow.clock import WALL_CLOCK, Clock
from pairflow.config import Settings
from pairflow.control import Control
from pairflow.events import OrderIntent
from pairflow.hyperliquid.exchange_client import ExchangeClient
from pairflow.hyperliquid.signer import L1Signer
from pairflow.hyperliquid.urls import is_mainnet
from pairflow.storage import Store
from sinks.desk import Desk
from sinks.execution import OrderRouter, RouterConfig
from sinks.executor import HyperliquidExecutor
from sinks.order_journal import OrderJournal
from sources.user_stream import UserStreamThread

__all__ = ["desk_factory", "stored_spreads"]


def stored_spreads(store: Store, cloids: set[str]) -> tuple[list[OrderIntent], dict[str, float]]:
    """Return the stored intents of ``cloids`` (one account's orders) and each of their spreads' last target.

    A spread's last target is the target of the signal behind its latest intent; a stop or a
    flatten (no stored signal) counts as 0.
    """
    rows = store.query_dicts("SELECT * FROM intents FINAL WHERE id IN {cloids:Array(String)}",
                             {"cloids": sorted(cloids)})
    intents = [OrderIntent(**row) for row in rows]
    latest: dict[str, OrderIntent] = {}
    for intent in sorted(intents, key=lambda intent: intent.ts):
        latest[intent.pair] = intent
    signals = dict(store.query("SELECT id, target FROM signals FINAL WHERE id IN {ids:Array(String)}",
                               {"ids": sorted({intent.signal_id for intent in latest.values()})}))
    return intents, {pair: signals.get(intent.signal_id, 0.0) for pair, intent in latest.items() if pair}


def desk_factory(settings: Settings, url: str, private_key: bytes, account: str, data_dir: Path,
                 clock: Clock = WALL_CLOCK, control: Control | None = None, store: Store | None = None):
    """Return a function building the desk for ``account`` signed by ``private_key`` against ``url``.

    The cloid journal lives in ``data_dir/execution`` per account; the kill
    file is looked for in ``data_dir``; ``control`` carries the operator's pause and flatten from the API.
    The desk follows the account's fills over the user stream at ``url``. With ``store``, it takes over
    the spreads an earlier run of the account left open (its intents and targets, `stored_spreads`).
    """
    execution = settings.execution

    def build() -> Desk:
        signer = L1Signer(private_key, is_mainnet=is_mainnet(url))
        executor = HyperliquidExecutor(ExchangeClient(url, signer), account)
        journal = OrderJournal(data_dir / "execution" / f"cloids-{account.lower()}")
        router = OrderRouter(executor, executor.rules, journal, limits=RiskLimits.from_settings(execution),
                             config=RouterConfig.from_settings(execution), clock=clock)
        desk = Desk(router, executor, executor.rules, capital=execution.capital_usd, control_dir=data_dir,
                    clock=clock, reconcile_interval_s=execution.reconcile_interval_s,
                    bar_interval=settings.strategy.bar_interval, max_var_99=execution.max_var_99,
                    control=control, stream=UserStreamThread(url, account).start())
        if store is not None and journal.sent:
            desk.adopt(*stored_spreads(store, journal.sent))
        return desk

    return build
