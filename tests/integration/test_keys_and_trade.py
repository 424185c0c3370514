"""Keys, agent approval, `pairflow trade` start-up checks and `pairflow kill`, against a venue over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import eth_account
import msgspec
import pytest
from typer.testing import CliRunner

from app.cli import app
from app.commands.keys import require_network
from pairflow.control import Control
from pairflow.errors import ConfigError
from pairflow.events import Signal
from pairflow.pause_file import PAUSE_FILE
from pairflow.hyperliquid.keystore import new_key

from pairflow.hyperliquid.exchange_client import ExchangeClient
from pairflow.hyperliquid.keystore import unlock
from pairflow.hyperliquid.signer import L1Signer
from sinks.desk import KILL_FILE, Desk
from sinks.execution import OrderRouter
from sinks.executor import HyperliquidExecutor
from sinks.order_journal import OrderJournal
from tests.helpers import eventually, free_port
from tests.integration.desk_support import assert_last_order_closed_the_position, desk_long_eth
from tests.integration.test_order_router import MARKS, Setup, venue  # noqa: F401 - the venue fixture
from tests.metrics_support import metric

PASS = "correct horse battery staple"


def cli(*args: str, cwd: Path, passphrase: str | None = PASS) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRFLOW_")}
    if passphrase is not None:
        env["PAIRFLOW_SECRETS__KEYSTORE_PASSPHRASE"] = passphrase
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_keys_are_encrypted_agents_are_checked_and_no_key_is_written_in_clear(venue: Setup, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    account = cli("keys", "new", "--dir", str(keys), cwd=tmp_path).stdout.strip()
    agent = new_key(keys, PASS)
    listed = cli("keys", "list", "--dir", str(keys), cwd=tmp_path).stdout
    assert account.lower() in listed.lower() and agent.lower() in listed.lower()
    account_file, agent_file = (keys / f"{account.lower()}.json", keys / f"{agent.lower()}.json")
    assert oct(account_file.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(ConfigError, match="wrong passphrase"):
        unlock(account_file, "wrong")
    with pytest.raises(ConfigError, match="mainnet needs --mainnet"):
        require_network("mainnet", mainnet=False)
    with venue.engine.lock:
        venue.engine.fund(account, 10_000)

    trade = ["trade", "--mode", "paper", "--url", venue.url, "--keystore", str(agent_file), "--account", account,
             "--coins", "ETH", "--data-dir", str(tmp_path / "trade"), "--duration", "3"]
    refused = cli(*trade, cwd=tmp_path)
    assert refused.returncode == 2 and f"signer {agent} is not an approved agent of account {account}" in refused.stderr

    approved = cli("keys", "approve-agent", agent, "--account-keystore", str(account_file), "--url", venue.url,
                   cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    started = cli(*trade, cwd=tmp_path)
    assert started.returncode == 0, started.stderr[-2000:]
    assert f"for {account} on {venue.url} (paper)" in started.stdout

    secrets = [unlock(path, PASS).hex() for path in (account_file, agent_file)]
    outputs = "".join(r.stdout + r.stderr for r in (refused, approved, started))
    for path in (tmp_path / "trade").rglob("*"):
        if path.is_file():
            outputs += path.read_bytes().decode("latin-1")
    for secret in secrets:
        assert secret not in outputs and secret not in account_file.read_text() + agent_file.read_text()


def test_trade_serves_its_execution_and_risk_metrics(venue: Setup, tmp_path: Path) -> None:
    """Like every long-running command, the trader serves /metrics: the desk's risk limits are scraped from it."""
    keys = tmp_path / "keys"
    account = new_key(keys, PASS)
    with venue.engine.lock:
        venue.engine.fund(account, 10_000)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRFLOW_")}
    env.update(PAIRFLOW_SECRETS__KEYSTORE_PASSPHRASE=PASS, PAIRFLOW_METRICS__PORT=str(port))
    trader = subprocess.Popen(
        [sys.executable, "-m", "app", "trade", "--mode", "paper", "--url", venue.url, "--keystore",
         str(keys / f"{account.lower()}.json"), "--coins", "ETH", "--data-dir", str(tmp_path / "trade"),
         "--duration", "60"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        limit = eventually(lambda: metric(port, "pairflow_risk_drawdown_limit_ratio"), timeout=60, interval=0.5)
    finally:
        trader.terminate()
        trader.wait(timeout=30)
    assert limit > 0


def test_kill_flattens_every_position_with_reduce_only_orders_and_halts(venue: Setup, tmp_path: Path) -> None:
    desk, bar = desk_long_eth(venue, tmp_path, "sig-k", control_dir=tmp_path)
    assert desk.position("ETH") == 1.5
    assert [e for e in desk.reconcile() if type(e).__name__ == "Alert"] == []
    asked = CliRunner().invoke(app, ["kill", "--data-dir", str(tmp_path)])  # what an operator types
    assert asked.exit_code == 0 and (tmp_path / KILL_FILE).exists(), asked.output
    out = desk.on_events([bar])
    assert any(type(e).__name__ == "Alert" and "killed by `pairflow kill`" in e.message for e in out)
    assert desk.position("ETH") == 0.0 and desk.halted
    assert_last_order_closed_the_position(venue)
    missing = CliRunner().invoke(app, ["kill", "--data-dir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and missing.output.strip().endswith("does not exist")


def test_a_kill_pauses_the_controls_in_their_pause_file_and_a_resume_lifts_the_halt(venue: Setup, tmp_path: Path) -> None:
    pause_file = tmp_path / PAUSE_FILE
    control = Control(pause_file=pause_file)
    desk, bar = desk_long_eth(venue, tmp_path, "sig-kp", control_dir=tmp_path, control=control)
    (tmp_path / KILL_FILE).touch()
    desk.on_events([bar])
    assert desk.position("ETH") == 0.0 and desk.halted == "killed by `pairflow kill`"
    restarted = Control(pause_file=pause_file).state()  # what a restarted trader starts from
    assert restarted.entries_paused and restarted.pause_reason == "killed by `pairflow kill`"
    entry = Signal(ts=bar.ts, id="ETH/SOL:kp", pair="ETH/SOL", hedge_ratio=1.0, spread=0.0, zscore=-2.0, target=1.0,
                   legs=("ETH",), leg_targets=(0.5,))
    (refused,) = [e.message for e in desk.on_events([entry]) if type(e).__name__ == "Alert"]
    assert refused == "ETH/SOL: entries_blocked: killed by `pairflow kill`"
    (tmp_path / KILL_FILE).unlink()
    control.resume_entries()
    desk.on_events([msgspec.structs.replace(entry, ts=bar.ts + 1, id="ETH/SOL:kp2")])
    assert desk.halted == "" and desk.position("ETH") == 0.5 and not pause_file.exists()
    desk.flatten("daily_drawdown: day PnL -600.00 USDC reached -500.00")  # what the drawdown stop calls
    assert Control(pause_file=pause_file).state().pause_reason.startswith("daily_drawdown: day PnL")


def test_venue_down_blocks_entries_with_one_alert_and_a_restart_reconciles(tmp_path: Path) -> None:
    from tests.integration.test_order_router import ASSETS
    from tests.support.venue import SteppableClock
    from venue.engine import Engine
    from venue.server.app import create_app
    from venue.server.serve import BackgroundServer, bind_socket

    clock = SteppableClock()
    engine = Engine(ASSETS, now_ms=clock())
    for coin, px in MARKS.items():
        engine.set_oracle(coin, px)
    wallet = eth_account.Account.create()
    engine.fund(wallet.address, 100_000)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = BackgroundServer(create_app(engine, clock=clock), sock, "warning", 5.0)
    server.start(10.0)
    executor = HyperliquidExecutor(ExchangeClient(server.url, L1Signer(bytes(wallet.key)), timeout_s=1.0),
                                   wallet.address)
    router = OrderRouter(executor, executor.rules, OrderJournal(tmp_path / "cloids"))
    desk = Desk(router, executor, executor.rules, capital=100_000.0, reconcile_interval_s=0.0)
    assert desk.reconcile() == [] and not desk.blocked
    server.stop(10.0)
    down = desk.on_events([]) + desk.on_events([])
    assert [e.severity for e in down] == ["critical"] and "exchange unreachable" in down[0].message
    from pairflow.events import Signal

    entry = Signal(ts=clock(), id="s-down", pair="ETH/SOL", hedge_ratio=1.0, spread=0.0, zscore=-2.0, target=1.0,
                   legs=("ETH", "SOL"), leg_targets=(1.0, -13.0))
    refused = desk.on_events([entry])
    assert any("entries_blocked: exchange unreachable" in getattr(e, "message", "") for e in refused)
    server = BackgroundServer(create_app(engine, clock=clock), bind_socket("127.0.0.1", port), "warning", 5.0)
    server.start(10.0)
    try:
        back = desk.on_events([])
    finally:
        server.stop(10.0)
    assert [e.message for e in back if type(e).__name__ == "Alert"] == [
        "reconciled with the exchange; entries allowed again"]
    assert not desk.blocked
