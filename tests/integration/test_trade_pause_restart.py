"""An operator's pause outlives the trader: paused through the API, SIGKILLed and restarted, `pairflow trade`
starts paused (one line says so, the API shows it) and sends no entry while its signals would enter; resumed
through the API, it enters again. The venue (speed 30) and the strategy settings are the kill-restart
reliability test's, so signals come within seconds."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import httpx

from pairflow.pause_file import PAUSE_FILE
from tests.helpers import eventually
from tests.reliability.test_trade_kill_restart import paper_venue, up

PASS = "pause-restart"


def entries(url: str, account: str) -> set[str]:
    """Cloids of the account's orders that could open a position (not reduce-only)."""
    orders = httpx.post(f"{url}/info", json={"type": "historicalOrders", "user": account}, timeout=10).json()
    return {order["order"]["cloid"] for order in orders if not order["order"]["reduceOnly"]}


class Trader:
    """One `pairflow trade` process, its output in a file, its API read from its first line."""

    def __init__(self, command: list[str], env: dict[str, str], out: Path) -> None:
        self.out = out
        with out.open("w") as sink:
            self.process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True)
        found = eventually(lambda: re.search(r"web UI (\S+)/\?token=(\S+)", out.read_text()), timeout=60, interval=0.2)
        self.api, token = found.group(1), found.group(2)
        self.auth = {"Authorization": f"Bearer {token}"}

    def control(self, action: str) -> dict:
        answer = httpx.post(f"{self.api}/api/controls/{action}", headers=self.auth, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["controls"]

    def get(self, path: str) -> dict:
        return httpx.get(f"{self.api}/api/{path}", headers=self.auth, timeout=10).json()

    def refusals(self) -> list[str]:
        return [row["message"] for row in self.get("alerts?limit=500")["items"] if "entries_blocked" in row["message"]]

    def stop(self, how: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(how)
        self.process.wait(timeout=60)


def test_a_pause_set_through_the_api_survives_a_sigkill_until_resumed_through_the_api(tmp_path: Path) -> None:
    account, trade, env, url, venue = paper_venue(tmp_path, PASS)
    data_dir = tmp_path / "trade"
    second = None
    try:
        eventually(lambda: up(url), timeout=60, interval=0.2)
        first = Trader(trade, env, tmp_path / "first.out")
        try:
            assert first.control("pause")["entries_paused"]
            assert (data_dir / PAUSE_FILE).exists()
        finally:
            first.stop(signal.SIGKILL)
        before = entries(url, account)

        second = Trader(trade, env, tmp_path / "second.out")
        line = eventually(lambda: re.search(r"entries paused since \S+: paused by the operator", second.out.read_text()),
                          timeout=30, interval=0.2)
        assert str(data_dir / PAUSE_FILE) in second.out.read_text()[line.start():].splitlines()[0]
        assert second.get("health")["controls"] == {"entries_paused": True, "halted": False, "flatten_requests": 0,
                                                   "pause_reason": "paused by the operator"}
        earlier = set(second.refusals())
        # the strategy's entries reach the desk and are refused, none goes to the venue
        eventually(lambda: any("entries_blocked: paused by the operator" in m for m in set(second.refusals()) - earlier),
                   timeout=60, interval=0.3)
        assert entries(url, account) == before

        resumed = second.control("resume")
        assert not resumed["entries_paused"] and resumed["pause_reason"] == ""
        assert not (data_dir / PAUSE_FILE).exists()
        eventually(lambda: entries(url, account) - before, timeout=60, interval=0.3)
    finally:
        if second is not None:
            second.stop(signal.SIGTERM)
        venue.kill()
        venue.wait(30)
