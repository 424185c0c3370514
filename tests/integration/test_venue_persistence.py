"""State survives a restart of ``pairflow venue serve`` with the same --data-dir."""

from __future__ import annotations

import subprocess
import sys

from eth_account import Account
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info

from tests.integration.venue_cli import REPO, VenueProcess

TRADER = Account.from_key("0x" + "33" * 32)
BUILDER = Account.from_key("0x" + "44" * 32).address.lower()


class RecordingExchange(Exchange):
    """The SDK's Exchange, keeping every /exchange body it posts so one can be replayed verbatim."""

    def __init__(self, *args, **kwargs) -> None:
        self.sent: list[dict] = []
        super().__init__(*args, **kwargs)

    def post(self, url_path, payload=None):
        if url_path == "/exchange":
            self.sent.append(payload)
        return super().post(url_path, payload)


def account_view(url: str) -> dict:
    info = Info(url, skip_ws=True)
    state = info.user_state(TRADER.address)
    return {
        "positions": [(p["position"]["coin"], p["position"]["szi"], p["position"]["entryPx"]) for p in state["assetPositions"]],
        "fills": [(f["tid"], f["oid"], f["coin"], f["px"], f["sz"]) for f in info.user_fills(TRADER.address)],
        "open_orders": [(o["oid"], o["coin"], o["limitPx"], o["sz"]) for o in info.open_orders(TRADER.address)],
    }


def test_accounts_orders_fills_and_nonces_survive_a_restart(tmp_path):
    data_dir = tmp_path / "venue"
    args = ("--data-dir", str(data_dir), "--seed", "4", "--fund", f"{TRADER.address}=100000", "--fund", f"{BUILDER}=100")
    first = VenueProcess(*args)
    try:
        exchange = RecordingExchange(TRADER, first.url)
        filled = exchange.market_open("ETH", True, 0.5)
        assert "filled" in filled["response"]["data"]["statuses"][0], filled
        mid = float(Info(first.url, skip_ws=True).all_mids()["ETH"])
        resting = exchange.order("ETH", True, 0.5, round(mid * 0.8, 1), {"limit": {"tif": "Gtc"}})
        assert "resting" in resting["response"]["data"]["statuses"][0], resting
        assert exchange.approve_builder_fee(BUILDER, "0.05%")["status"] == "ok"
        approved, agent_key = exchange.approve_agent("bot")
        assert approved["status"] == "ok", approved
        replayable = exchange.sent[-1]
        before = account_view(first.url)
        assert len(before["positions"]) == 1 and len(before["open_orders"]) == 1 and before["fills"]
    finally:
        assert first.terminate() == 0, first.output
    assert (data_dir / "venue.snapshot").is_file()
    assert "snapshot saved" in first.output

    second = VenueProcess(*args)
    try:
        assert "restored" in second.output
        after = account_view(second.url)
        assert after == before
        agents = Info(second.url, skip_ws=True).post("/info", {"type": "extraAgents", "user": TRADER.address})
        assert [agent["name"] for agent in agents] == ["bot"]
        approval = {"type": "maxBuilderFee", "user": TRADER.address, "builder": BUILDER}
        assert Info(second.url, skip_ws=True).post("/info", approval) == 50
        ledger = Info(second.url, skip_ws=True).post(
            "/info", {"type": "userNonFundingLedgerUpdates", "user": TRADER.address, "startTime": 0}
        )
        assert [entry["delta"]["type"] for entry in ledger].count("deposit") == 1
        replay = RecordingExchange(TRADER, second.url).post("/exchange", replayable)
        assert replay == {"status": "err", "response": f"Invalid nonce: duplicate nonce {replayable['nonce']}"}
    finally:
        assert second.terminate() == 0, second.output


def test_corrupt_snapshot_is_refused_with_one_line_and_kept_aside(tmp_path):
    data_dir = tmp_path / "venue"
    data_dir.mkdir()
    (data_dir / "venue.snapshot").write_bytes(b"PFVENUE1" + b"\0" * 40)
    result = subprocess.run(
        [sys.executable, "-m", "app", "venue", "serve", "--port", "0", "--data-dir", str(data_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=60, env={"COLUMNS": "400", "PATH": ""},
    )
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert "corrupt" in line and "checksum" in line
    (aside,) = data_dir.glob("venue.snapshot.corrupt-*")
    assert aside.read_bytes() == b"PFVENUE1" + b"\0" * 40
    assert not (data_dir / "venue.snapshot").exists()
