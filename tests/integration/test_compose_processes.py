"""infra/compose's pairflow services run as plain processes: the venue's market flows through the whole pipeline.

No container runtime is available here, so each service's ``command`` from
compose.yaml runs as ``python -m app <command>`` with its environment, the
tansu broker in place of Redpanda, the local venue in place of Hyperliquid and
chDB in place of the ClickHouse server (paths under ``/data`` move to a
directory per service, the keystore secret to a keystore made here).
collect -> md.* -> ingest -> md.bars/md.books -> strategy -> pf.signals ->
execution -> orders on the venue -> pf.orders/pf.fills/..., the store-writer
storing every topic, then the API reading what was stored. chDB admits one
process, so the API starts once the store-writer has stopped (with a server
they run side by side).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import eth_account
import httpx
import pytest
import yaml

from pairflow.hyperliquid.keystore import import_key
from pairflow.storage import connect
from tests.broker import TansuBroker
from tests.helpers import eventually, free_port
from tests.integration.ingest_support import REPO, chdb_settings
from tests.integration.venue_cli import VenueProcess
from tests.metrics_support import metric

pytestmark = [pytest.mark.broker, pytest.mark.slow]

COMPOSE = yaml.safe_load((REPO / "infra" / "compose" / "compose.yaml").read_text())["services"]
STAGES = ("collect", "ingest", "strategy", "execution", "store-writer")
# The line each service logs last when it stops on a signal.
CLOSING_LINES = {"collect": "collector stopped", **dict.fromkeys(STAGES[1:], "flow stopped by signal")}
PASS = "correct horse battery staple"


def config_text(tmp_path: Path, broker: TansuBroker, venue_url: str) -> str:
    """What secrets/pairflow.toml says in a deployment, pointed at the local stand-ins."""
    return f"""
[broker]
bootstrap_servers = "{broker.bootstrap_servers}"
partitions = 2

[storage]
dsn = "chdb://{tmp_path / 'chdb'}"
spill_dir = "{tmp_path / 'spill'}"

[collector]
url = "{venue_url}"
coins = ["ETH", "SOL"]
backfill_hours = 0

[strategy]
pairs = ["ETH/SOL"]
bar_interval = "1s"
warmup_rows = 20
zscore_window = 20
heartbeat_rows = 5
entry_z = 1.0
exit_z = 0.2

[api]
port = 0

[secrets]
keystore_passphrase = "{PASS}"

[logging]
level = "INFO"
"""


def start_service(name: str, tmp_path: Path, config: Path) -> tuple[subprocess.Popen, int]:
    """Start compose service ``name``'s command as a process; return it and the metrics port it was given."""
    service = COMPOSE[name]
    home = tmp_path / name
    home.mkdir()
    keystore = next((tmp_path / "keys").glob("*.json"), None)
    command = [str(keystore) if argument == "/run/secrets/keystore" else re.sub(r"^/data", str(home), argument)
               for argument in service["command"]]
    environment = {**os.environ, **service.get("environment", {}), "PAIRFLOW_CONFIG": str(config),
                   "PYTHONPATH": str(REPO)}
    port = 0
    if "PAIRFLOW_METRICS__PORT" in environment:
        # The compose ports are fixed per container; on one host each process takes a free one.
        port = free_port()
        environment["PAIRFLOW_METRICS__PORT"] = str(port)
    log = open(home / "out.log", "ab")  # noqa: SIM115 - owned by the child
    process = subprocess.Popen([sys.executable, "-m", "app", *command], cwd=home, env=environment, stdout=log,
                               stderr=subprocess.STDOUT)
    return process, port


def stop_service(process: subprocess.Popen) -> None:
    """Stop a service as `docker compose stop` does: SIGTERM, then a kill after its 10 s grace."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def assert_stopped_cleanly(log: Path, closing: str) -> None:
    """SIGTERM is a service's normal stop: its closing line, no traceback, no Rust panic text."""
    text = log.read_text()
    assert closing in text and "Traceback" not in text and "panicked" not in text, text[-2_000:]


def passes_health_check(name: str, port: int) -> bool:
    """Run compose service ``name``'s health check against its process here, ``port`` standing for the container's."""
    kind, program, *arguments = COMPOSE[name]["healthcheck"]["test"]
    assert (kind, program) == ("CMD", "python"), name
    arguments = [argument.replace(":8000/", f":{port}/") for argument in arguments]
    environment = {"PATH": os.environ["PATH"], "PAIRFLOW_METRICS__PORT": str(port)}
    return subprocess.run([sys.executable, *arguments], env=environment, capture_output=True, timeout=30).returncode == 0


def test_compose_services_run_as_processes_end_to_end(tansu_broker_fn: TansuBroker, tmp_path: Path) -> None:
    wallet = eth_account.Account.create()
    import_key(tmp_path / "keys", bytes(wallet.key).hex(), PASS)
    venue = VenueProcess("--ephemeral", "--speed", "10", "--group", "ETH,SOL", "--trade-rate", "120",
                         "--fund", f"{wallet.address}=1000000")
    running: dict[str, subprocess.Popen] = {}
    try:
        config = tmp_path / "pairflow.toml"
        config.write_text(config_text(tmp_path, tansu_broker_fn, venue.url))
        init, _ = start_service("db-init", tmp_path, config)
        assert init.wait(timeout=120) == 0, (tmp_path / "db-init" / "out.log").read_text()[-2_000:]
        ports = {}
        for name in STAGES:
            running[name], ports[name] = start_service(name, tmp_path, config)

        def stored(table: str) -> float:
            for name, process in running.items():
                assert process.poll() is None, f"{name}: " + (tmp_path / name / "out.log").read_text()[-2_000:]
            return metric(ports["store-writer"], "pairflow_ingest_messages_out_total", table=table)

        eventually(lambda: all(stored(table) > 0 for table in ("trades", "bars_1s", "l2_snapshots", "fills"))
                   and stored("signals") >= 3, timeout=240, interval=1.0)
        assert [name for name in STAGES if not passes_health_check(name, ports[name])] == []
    finally:
        for name in reversed(list(running)):
            stop_service(running[name])
        venue.kill()
    assert {name: process.returncode for name, process in running.items()} == dict.fromkeys(STAGES, 0)
    for name in STAGES:
        assert_stopped_cleanly(tmp_path / name / "out.log", CLOSING_LINES[name])
    assert not passes_health_check("ingest", ports["ingest"]), "a health check must fail when its process is gone"

    with connect(chdb_settings(tmp_path)) as store:
        signals = store.count("signals")
        counts = {table: store.count(table) for table in ("trades", "bars_1s", "l2_snapshots", "orders", "fills")}
    assert signals >= 3 and min(counts.values()) > 0, counts

    api, _ = start_service("api", tmp_path, config)
    try:
        log = tmp_path / "api" / "out.log"
        found = eventually(lambda: re.search(r"pairflow api (http://\S+)/\?token=", log.read_text()), timeout=60)
        assert passes_health_check("api", int(found[1].rsplit(":", 1)[1]))
        health = httpx.get(f"{found[1]}/api/health", timeout=10).json()
        page = httpx.get(f"{found[1]}/api/signals", params={"limit": 500}, timeout=10).json()
    finally:
        stop_service(api)
    assert health["store_ok"] and health["tables"]["signals"] == signals
    assert (health["tables"]["orders"], health["tables"]["fills"]) == (counts["orders"], counts["fills"])
    assert page["total"] == signals and {row["pair"] for row in page["items"]} == {"ETH/SOL"}
    assert api.returncode == 0, log.read_text()[-2_000:]
    assert_stopped_cleanly(log, "api stopped")
