"""Tick-to-order latency: a market event in, the signed order handed to the transport, in-process.

Run: ``.venv/bin/python benchmarks/bench_execution.py [--rows N] [--write]``.

Workload: one seeded cointegrated pair (`tests.strategy_support.cointegrated_bars`,
``N`` 1-minute bars per leg). Each bar goes through the strategy's
`SpreadStrategy` and, with the signals it produced, through the execution
`Desk`: netting, sizing, the inline risk checks, the order router, the
write-ahead cloid journal (written to the OS, in a temporary directory), the wire order
and the L1 signature with its nonce. The transport is the only stand-in: it
records the time it is handed the signed request and answers "filled", so no
network time is counted. Latency is taken for every bar that led to an order
(to its first order). Parity first: the signature handed over verifies to
the signer (`pairflow.hyperliquid.signing.recover_l1_signer`) and equals the
SDK's ``sign_l1_action``. Signing alone (action hash + digest + secp256k1) is
timed in the same run on the same orders.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import eth_account  # noqa: E402
from hyperliquid.utils.signing import sign_l1_action  # noqa: E402

from benchmarks.machine import arguments, percentile, provenance, publish  # noqa: E402
from operators.risk_checks import RiskLimits  # noqa: E402
from operators.spread_strategy import SpreadStrategy  # noqa: E402
from pairflow.config import LoggingSettings, StrategySettings  # noqa: E402
from pairflow.events import Signal  # noqa: E402
from pairflow.hyperliquid.exchange_client import ExchangeClient  # noqa: E402
from pairflow.hyperliquid.signer import L1Signer  # noqa: E402
from pairflow.hyperliquid.signing import recover_l1_signer  # noqa: E402
from pairflow.logs import configure_logging  # noqa: E402
from sinks.desk import Desk  # noqa: E402
from sinks.execution import OrderRouter  # noqa: E402
from sinks.executor import HyperliquidExecutor  # noqa: E402
from sinks.order_journal import OrderJournal  # noqa: E402
from tests.strategy_support import cointegrated_bars  # noqa: E402

LEGS = ("Y0", "X0")
META = {"universe": [{"name": coin, "szDecimals": 3, "maxLeverage": 20} for coin in LEGS]}


class HandOff(ExchangeClient):
    """The transport stand-in: takes the signed request, notes the time, answers that the order filled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handed: list[tuple[float, dict]] = []

    def exchange(self, action: dict, expires_after: int | None = None) -> Any:
        body = self.signed(action, expires_after)
        self.handed.append((time.perf_counter(), body))
        order = action["orders"][0]
        return {"status": "ok", "response": {"type": "order", "data": {"statuses": [
            {"filled": {"totalSz": order["s"], "avgPx": order["p"], "oid": len(self.handed)}}]}}}

    def info(self, body: Any) -> Any:
        return []


def run(rows: int, directory: Path) -> tuple[list[float], HandOff, L1Signer]:
    """Feed the bars through strategy and desk; return tick-to-order latencies (s) and the transport."""
    wallet = eth_account.Account.create()
    signer = L1Signer(bytes(wallet.key))
    client = HandOff("http://127.0.0.1:9", signer)
    executor = HyperliquidExecutor(client, wallet.address, meta=META)
    limits = RiskLimits(max_orders_per_minute=0, stale_ms=0, max_funding_cost=0, max_leverage=0,
                        max_order_notional=0, max_coin_notional=0, max_gross_notional=0, max_net_notional=0)
    router = OrderRouter(executor, executor.rules, OrderJournal(directory / "cloids"), limits=limits)
    desk = Desk(router, executor, executor.rules, capital=1e6, reconcile_interval_s=1e9)
    settings = StrategySettings(warmup_rows=30, zscore_window=60, entry_z=1.0, exit_z=0.2, heartbeat_rows=0)
    strategy = SpreadStrategy(LEGS, settings)
    latencies = []
    for bar in cointegrated_bars(LEGS, rows, seed=11):
        before = len(client.handed)
        start = time.perf_counter()
        events = [bar, *(out for out in strategy.update(bar) if type(out) is Signal)]
        desk.on_events(events)
        if len(client.handed) > before:
            latencies.append(client.handed[before][0] - start)
    return latencies, client, signer


def main() -> None:
    parser = arguments(__doc__, "execution", repeats=None, seed=None)
    parser.add_argument("--rows", type=int, default=3000, help="bars per leg")
    args = parser.parse_args()
    configure_logging(LoggingSettings(level="WARNING"))
    with tempfile.TemporaryDirectory() as directory:
        run(300, Path(directory) / "warmup")
        latencies, client, signer = run(args.rows, Path(directory))
    bodies = [body for _, body in client.handed]
    for body in bodies[:20]:
        recovered = recover_l1_signer(body["action"], body["signature"], None, body["nonce"], body["expiresAfter"])
        assert recovered == signer.address.lower(), "handed-over signature does not verify"
        sdk = sign_l1_action(eth_account.Account.from_key(signer._key.to_bytes()), body["action"], None,
                             body["nonce"], body["expiresAfter"], False)
        assert sdk == body["signature"], "signature differs from the SDK's"
    nonces = [body["nonce"] for body in bodies]
    assert len(set(nonces)) == len(nonces), "nonces repeat"
    signing = []
    for body in bodies:
        start = time.perf_counter()
        signer.sign(body["action"], body["nonce"], None, body["expiresAfter"])
        signing.append(time.perf_counter() - start)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    s50, s99 = percentile(signing, 0.5), percentile(signing, 0.99)
    block = "\n".join([
        "## Execution: tick-to-order latency",
        "",
        *provenance(),
        f"- command: `.venv/bin/python benchmarks/bench_execution.py --rows {args.rows}`",
        f"- workload: {args.rows:,} 1-minute bars per leg of one cointegrated pair; {len(latencies):,} bars led to "
        f"orders ({len(bodies):,} orders in all); path: strategy update → desk (netting, sizing, risk checks) → "
        "router → cloid journal (flushed) → wire order → nonce + L1 signature → transport",
        "- parity: the first 20 handed-over signatures recover to the signer and equal the SDK's `sign_l1_action`; "
        "all nonces distinct",
        "- the machine is shared with other jobs; compare rows within this block only",
        "",
        "| measure | p50 ms | p99 ms |",
        "|---|---:|---:|",
        f"| tick to signed order handed to the transport | {p50 * 1e3:.3f} | {p99 * 1e3:.3f} |",
        f"| signing alone (same orders) | {s50 * 1e3:.3f} | {s99 * 1e3:.3f} |",
        f"| overhead beyond signing | {(p50 - s50) * 1e3:.3f} | {(p99 - s99) * 1e3:.3f} |",
    ])
    publish(block, "execution", args.write)


if __name__ == "__main__":
    main()
