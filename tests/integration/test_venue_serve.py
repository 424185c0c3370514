"""``pairflow venue serve`` as a real subprocess, driven with the unmodified SDK over HTTP and WebSocket."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import httpx
import pytest
import websocket
from eth_account import Account
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info

from pairflow.config import VenueSettings
from tests.conformance.ws_client import ABNORMAL_CLOSURE, send_and_await_close
from tests.helpers import FIXTURES, eventually, free_port
from tests.integration.venue_cli import REPO, VenueProcess
from venue.market.recorded import load_directory
from venue.server.limits import MAX_WS_MESSAGE_BYTES
from venue.service import VenueOptions, VenueService

FIXTURE_DATA = FIXTURES / "data"

TRADER = Account.from_key("0x" + "11" * 32)
STRANGER = Account.from_key("0x" + "22" * 32)


@pytest.fixture(scope="module")
def venue():
    process = VenueProcess("--ephemeral", "--fund", f"{TRADER.address}=250000", "--seed", "3", "--trade-rate", "240")
    yield process
    process.kill()


def test_help_explains_every_option():
    result = subprocess.run(
        [sys.executable, "-m", "app", "venue", "serve", "--help"],
        cwd=REPO, capture_output=True, text=True, timeout=30, env={"COLUMNS": "200", "PATH": ""},
    )
    assert result.returncode == 0
    for option in ("--host", "--port", "--fund", "--seed", "--speed", "--market", "--replay-from", "--data-dir",
                   "--group", "--ephemeral", "--half-life", "--trade-rate", "--metrics-port", "Examples"):
        assert option in result.stdout


def test_start_up_panel_names_url_universe_and_funded_accounts(venue):
    assert venue.url in venue.output
    assert "ETH/SOL/AVAX" in venue.output
    assert TRADER.address.lower() in venue.output


def test_sdk_info_sees_the_universe_book_and_funded_account(venue):
    info = Info(venue.url, skip_ws=True)
    universe = info.meta()["universe"]
    assert [asset["name"] for asset in universe][:3] == ["BTC", "ETH", "SOL"]
    assert info.name_to_asset("ETH") == 1
    book = eventually(lambda: info.l2_snapshot("ETH") if len(info.l2_snapshot("ETH")["levels"][0]) >= 5 else None)
    assert float(book["levels"][0][0]["px"]) < float(book["levels"][1][0]["px"])
    assert set(info.all_mids()) >= {"BTC", "ETH", "SOL"}
    state = info.user_state(TRADER.address)
    assert float(state["marginSummary"]["accountValue"]) == 250000.0


def test_sdk_exchange_trades_against_the_market_makers(venue):
    exchange = Exchange(TRADER, venue.url)
    result = exchange.market_open("SOL", True, 1.0)
    assert result["status"] == "ok", result
    assert "filled" in result["response"]["data"]["statuses"][0], result
    info = Info(venue.url, skip_ws=True)
    positions = info.user_state(TRADER.address)["assetPositions"]
    assert [(p["position"]["coin"], p["position"]["szi"]) for p in positions] == [("SOL", "1.0")]
    fills = info.user_fills(TRADER.address)
    assert fills[0]["coin"] == "SOL" and fills[0]["side"] == "B"


def test_unknown_user_cannot_trade(venue):
    result = Exchange(STRANGER, venue.url).market_open("SOL", True, 1.0)
    assert result["status"] == "err"
    assert STRANGER.address.lower() in result["response"].lower()


def test_market_trades_stream_on_the_websocket(venue):
    info = Info(venue.url, skip_ws=False)
    received: list[dict] = []
    arrived = threading.Event()

    def on_trades(message: dict) -> None:
        received.extend(message["data"])
        arrived.set()

    try:
        info.subscribe({"type": "trades", "coin": "ETH"}, on_trades)
        assert arrived.wait(20.0), "no trades frame within 20 s"
        eventually(lambda: len(received) >= 3, timeout=20.0)
    finally:
        info.disconnect_websocket()
    assert {trade["coin"] for trade in received} == {"ETH"}
    assert all(float(trade["px"]) > 0 and trade["side"] in ("A", "B") for trade in received)


def test_replay_market_serves_recorded_prices_and_metrics():
    metrics_port = free_port()
    process = VenueProcess("--ephemeral", "--market", "replay", "--replay-from", str(FIXTURE_DATA), "--metrics-port", str(metrics_port))
    try:
        info = Info(process.url, skip_ws=True)
        assert [asset["name"] for asset in info.meta()["universe"]] == ["BTC", "ETH", "SOL"]
        mids = eventually(lambda: info.all_mids() if {"BTC", "ETH", "SOL"} <= set(info.all_mids()) else None)
        first_btc = load_directory(FIXTURE_DATA).candles["BTC"][0]
        assert first_btc[3] * 0.995 <= float(mids["BTC"]) <= first_btc[2] * 1.005
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert "pairflow_venue_driver_steps_total" in metrics
    finally:
        assert process.terminate() == 0, process.output


def test_custom_universe_file_and_bad_options(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text(json.dumps({"universe": [
        {"name": "ETH", "szDecimals": 4, "maxLeverage": 25, "referencePx": "3000.0"},
        {"name": "SOL", "szDecimals": 2, "maxLeverage": 20, "referencePx": "150.0"},
    ]}))
    process = VenueProcess("--ephemeral", "--universe", str(path), "--group", "ETH,SOL")
    try:
        info = Info(process.url, skip_ws=True)
        listed = [(u["name"], u["szDecimals"], u["maxLeverage"]) for u in info.meta()["universe"]]
        assert listed == [("ETH", 4, 25), ("SOL", 2, 20)]
        assert 2900 < float(eventually(lambda: info.all_mids().get("ETH"))) < 3100
    finally:
        assert process.terminate() == 0, process.output
    result = subprocess.run(
        [sys.executable, "-m", "app", "venue", "serve", "--ephemeral", "--fund", "0x12=5"],
        cwd=REPO, capture_output=True, text=True, timeout=30, env={"COLUMNS": "300", "PATH": ""},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: --fund '0x12=5' must look like 0x<40 hex digits>=<USDC amount>"]


def test_in_process_service_runs_the_simulated_clock_at_speed(tmp_path):
    service = VenueService(VenueOptions(VenueSettings(port=0, speed=120.0, data_dir=tmp_path, seed=2)))
    url = service.start()
    try:
        started = service.engine.now_ms
        wall_start = time.monotonic()
        eventually(lambda: service.engine.now_ms - started >= 60_000, timeout=10.0)
        elapsed_wall = time.monotonic() - wall_start
        assert elapsed_wall < 3.0
        trades = Info(url, skip_ws=True).post("/info", {"type": "recentTrades", "coin": "BTC"})
        assert trades and max(trade["time"] for trade in trades) > started
    finally:
        snapshot = service.stop()
    assert snapshot == tmp_path / "venue.snapshot" and snapshot.is_file()


def test_sigterm_stops_the_venue_cleanly_and_saves_a_snapshot(tmp_path):
    process = VenueProcess("--seed", "1", "--data-dir", str(tmp_path))
    code = process.terminate()
    assert code == 0, process.output
    assert "venue stopped; snapshot saved" in process.output
    assert (tmp_path / "venue.snapshot").is_file()


def test_in_process_service_serves_with_the_venue_uvicorn_config():
    service = VenueService(VenueOptions(VenueSettings(port=0, seed=4, data_dir=None)))
    url = service.start()
    address = "ws" + url[len("http"):] + "/ws"
    try:
        flooder = websocket.create_connection(address, timeout=5)
        try:
            assert send_and_await_close(flooder, "x" * (MAX_WS_MESSAGE_BYTES + 1)) in (1009, ABNORMAL_CLOSURE)
        finally:
            flooder.close()
    finally:
        service.stop()
