"""A trader SIGKILLed with a spread open, restarted: no duplicate orders, every cloid journaled, books reconciled,
the open spread taken over (its first order after the restart never adds to a position held at the kill).

The trader is killed once the venue shows both legs held. The restarted run is then stopped with SIGTERM
(a service stop) while it holds a position, and started once more for 5 s: the checks cover all three
runs, so the SIGTERM stop loses and repeats nothing either. The summary shows no recovery time.
No reconciliation alert means every fill on the account came from an order of the journal (a fill of
no order of ours is a mismatch).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pairflow.config import StorageSettings
from pairflow.hyperliquid.keystore import new_key
from pairflow.storage import connect
from tests.helpers import eventually, free_port
from tests.reliability.support import record

PASS = "kill-restart"
CONFIG = """
[venue]
trade_rate_per_minute = 60.0
[strategy]
universe = "config"
pairs = ["ETH/SOL"]
bar_interval = "1s"
warmup_rows = 20
zscore_window = 30
staleness_ms = 30000
max_gap_ms = 120000
heartbeat_rows = 10
entry_z = 1.2
exit_z = 0.3
[logging]
level = "WARNING"
"""


def held(url: str, account: str) -> dict[str, float]:
    state = httpx.post(f"{url}/info", json={"type": "clearinghouseState", "user": account}, timeout=10).json()
    return {p["position"]["coin"]: float(p["position"]["szi"]) for p in state["assetPositions"]}


def up(url: str) -> bool:
    try:
        return httpx.post(f"{url}/info", json={"type": "meta"}, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def stop_with_sigterm_while_holding(trade: list[str], env: dict[str, str], url: str, account: str, out: Path) -> None:
    """Run the trader for 5 s after it starts trading and until it holds a position, then stop it as a service
    manager does: SIGTERM is its normal stop, exit 0 with its closing line, no traceback."""
    with out.open("w") as sink:
        trader = subprocess.Popen(trade, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True)
    try:
        eventually(lambda: "trading ETH/SOL" in out.read_text(), timeout=120, interval=0.5)
        trading = time.monotonic()
        eventually(lambda: time.monotonic() - trading > 5 and held(url, account), timeout=150, interval=0.5)
        trader.send_signal(signal.SIGTERM)
        code = trader.wait(timeout=60)
    finally:
        if trader.poll() is None:
            trader.kill()
            trader.wait()
    text = out.read_text()
    assert code == 0 and "trader stopped; a restart" in text and "Traceback" not in text, text[-2000:]


def paper_venue(tmp_path: Path, passphrase: str) -> tuple[str, list[str], dict[str, str], str, subprocess.Popen]:
    """Start a venue (speed 30) funding a new key's account; return the account, the `pairflow trade` command
    trading ETH/SOL on it from ``tmp_path / "trade"``, its environment, the venue's URL and process."""
    account = new_key(tmp_path / "keys", passphrase)
    keystore = tmp_path / "keys" / f"{account.lower()}.json"
    config = tmp_path / "pairflow.toml"
    config.write_text(CONFIG + f'[storage]\ndsn = "chdb://{tmp_path / "chdb"}"\nspill_dir = "{tmp_path / "spill"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRFLOW_")}
    env["PAIRFLOW_SECRETS__KEYSTORE_PASSPHRASE"] = passphrase
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    venue = subprocess.Popen([sys.executable, "-m", "app", "venue", "serve", "--port", str(port), "--speed", "30",
                              "--fund", f"{account}=100000", "--ephemeral", "--config", str(config)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    trade = [sys.executable, "-m", "app", "trade", "--mode", "paper", "--url", url, "--keystore", str(keystore),
             "--coins", "ETH,SOL", "--data-dir", str(tmp_path / "trade"), "--config", str(config)]
    return account, trade, env, url, venue


def test_sigkill_mid_run_then_restart_sends_no_order_twice_and_reconciles(tmp_path: Path) -> None:
    account, trade, env, url, venue = paper_venue(tmp_path, PASS)
    journal = tmp_path / "trade" / "execution" / f"cloids-{account.lower()}"
    try:
        eventually(lambda: up(url), timeout=60, interval=0.5)
        first = subprocess.Popen(trade, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            eventually(lambda: len(held(url, account)) == 2, timeout=150, interval=0.5)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        held_at_kill = held(url, account)
        sent_before_kill = set(journal.read_text().split())
        stop_with_sigterm_while_holding(trade, env, url, account, tmp_path / "second.out")
        third = subprocess.run([*trade, "--duration", "5"], env=env, capture_output=True, text=True, timeout=180)
        assert third.returncode == 0, third.stderr[-2000:]  # so the SIGTERMed trader left no lock held
        info = lambda body: httpx.post(f"{url}/info", json=body, timeout=10).json()  # noqa: E731
        orders = info({"type": "historicalOrders", "user": account})
        fills = info({"type": "userFills", "user": account})
        held_at_end = held(url, account)
    finally:
        venue.terminate()
        venue.wait(30)
    cloids = [order["order"]["cloid"] for order in orders]
    assert cloids, "no order was sent"
    journaled = set(journal.read_text().split())
    assert set(cloids) <= journaled
    with connect(StorageSettings(dsn=f"chdb://{tmp_path / 'chdb'}", spill_dir=tmp_path / "spill2")) as store:
        stored = store.query_dicts("SELECT id, coin, side, sz FROM fills FINAL")
        alerts = store.query_dicts("SELECT message FROM alerts FINAL WHERE message LIKE 'reconciliation%'")
    fill_ids = {str(fill["tid"]) for fill in fills}
    stored_ids = [row["id"] for row in stored]
    record("SIGKILL paper trader, restart", len(fills), len(fill_ids - set(stored_ids)),
           len(stored_ids) - len(set(stored_ids)), None, orders_duplicated=len(cloids) - len(set(cloids)))
    assert sorted(stored_ids) == sorted(fill_ids)
    ours: dict[str, float] = {}
    for row in stored:
        ours[row["coin"]] = round(ours.get(row["coin"], 0.0) + (row["sz"] if row["side"] == "B" else -row["sz"]), 8)
    assert {c: s for c, s in ours.items() if s} == held_at_end
    assert alerts == []
    # The restarted trader took the open spread over: its first order on a coin held at the kill closes
    # (part of) that position instead of adding to it, as a trader starting flat would.
    later = sorted((order["order"] for order in orders if order["order"]["cloid"] not in sent_before_kill),
                   key=lambda order: order["timestamp"])
    first_side = {}
    for order in later:
        first_side.setdefault(order["coin"], order["side"])
    for coin, side in first_side.items():
        if held_at_kill.get(coin):
            assert (side == "B") == (held_at_kill[coin] < 0), (coin, side, held_at_kill)

