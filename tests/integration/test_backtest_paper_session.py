"""A recorded paper session on the venue, replayed by the backtest, gives back that session's orders, funding and PnL.

`pairflow demo` trades ETH/SOL on the venue's synthetic market and records everything in chDB: trades,
candles, signals, intents, orders, fills, funding rates and payments, and every book the venue published -- the
venue publishes its book after each market step (``venue.book_every_step``) and the collector stores each one
at its own time (``collector.book_interval_ms = 0``). The backtest replays the session's own signals
(``--mode recorded``) against that depth (``--fill book``), each order reaching the book when the session's did
and the legs of a spread going out in the session's order, hourly funding settling at the recorded rate and
oracle. Every order comes back: same cloid, coin, side, size, fill prices and fill time; so do the funding
payments. Fees only to the micro-USDC: the venue rounds each fill's fee, and an order that met two resting
orders at one price filled twice in the session, once against the recorded level (a book gives a level's
total, not how it is split between orders). So the PnL from fills and funding is equal to a few micro-USDC.

The session is driven so that it always holds the spread across an hourly settlement (the old version of this
test crossed one with a position in about 1 run of 4, so its funding check compared nothing):

* the market starts five minutes before 10:00 (ten wall seconds at --speed 30); the spread enters once the
  demo is up and its filter warmed up: 2.5 minutes of market time on a quiet machine, 4 at load 9;
* the spread's Kalman filter learns slowly (a large observation variance), so the spread it leaves is a
  steady drift, whose z-score stays on one side of the band: the spread enters at its first row after warm-up
  and holds; no exit comes from the market;
* once the stored PnL shows funding, the test widens the exit band through the operator API
  (``/api/controls/params``): the spread closes at its next row and never enters again (its score stays inside the new entry band);
* the demo is stopped (SIGTERM, its normal stop) once those exit orders filled.

Every wait polls a condition with a deadline instead of sleeping for a guessed time.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from app.backtest.modes import recorded_factory
from app.backtest.run import run_backtest
from app.cli import app as cli_app
from app.backtest.session import load_session
from pairflow.config import Settings, StorageSettings
from pairflow.storage import connect
from sources.replay import load_store
from tests.helpers import eventually
from tests.integration.api_support import DemoRun, start_demo

Fills = list[tuple[str, str, str, float, float, float, int]]

SETTLEMENT_MS = 1_767_607_200_000
"""2026-01-05T10:00:00Z: the hourly settlement the session holds its spread across."""

CONFIG = """
[venue]
trade_rate_per_minute = 60.0
book_every_step = true
start = "2026-01-05T09:55:00Z"
[collector]
book_interval_ms = 0
funding_poll_s = 0.25
[strategy]
kalman_observation_variance = 1000.0
warmup_rows = 10
zscore_window = 10
entry_z = 1.0
exit_z = 0.0
"""


def _by_cloid(fills: Fills) -> dict[str, tuple[str, str, int, dict[float, float]]]:
    """Return cloid -> (coin, side, fill time, {price: size filled there})."""
    out: dict[str, tuple[str, str, int, dict[float, float]]] = {}
    for cloid, coin, side, sz, px, _, ts in fills:
        sizes = out.setdefault(cloid, (coin, side, ts, {}))[3]
        sizes[px] = round(sizes.get(px, 0.0) + sz, 8)
    return out


def _fees(fills: Fills) -> dict[str, tuple[float, int]]:
    """Return cloid -> (fees paid, number of fills)."""
    out: dict[str, tuple[float, int]] = {}
    for cloid, *_, fee, _ in fills:
        paid, count = out.get(cloid, (0.0, 0))
        out[cloid] = (paid + fee, count + 1)
    return out


def _cash(fills: Fills) -> float:
    return -sum((sz if side == "B" else -sz) * px + fee for _, _, side, sz, px, fee, _ in fills)


def _get(run: DemoRun, path: str, **params: object) -> list[dict]:
    response = httpx.get(f"{run.url}/api/{path}", params=params, headers={"Authorization": f"Bearer {run.token}"},
                         timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _record_session(tmp_path: Path) -> Path:
    """Run the demo through one funding settlement with the spread held, close it, stop; return its data dir."""
    config = tmp_path / "demo.toml"
    config.write_text(CONFIG)
    run = start_demo(tmp_path, seconds=120, coins="ETH,SOL", config=config)

    def funded() -> bool:
        if any(row["funding"] for row in _get(run, "pnl", scope="portfolio", since=SETTLEMENT_MS)):
            return True
        entries = [row["ts"] for row in _get(run, "signals", limit=100) if row["reason"].startswith("entry")]
        if entries and min(entries) >= SETTLEMENT_MS:  # the next settlement is an hour (2 wall minutes) away
            pytest.fail(f"the spread entered {(min(entries) - SETTLEMENT_MS) / 1000:g} s after 10:00: the demo took "
                        "more than about 8 wall seconds to start trading, so no settlement was held across")
        return False

    try:
        eventually(funded, timeout=90, interval=0.2)
        changed = httpx.post(f"{run.url}/api/controls/params", json={"entry_z": 3.0, "exit_z": 2.0},
                             headers={"Authorization": f"Bearer {run.token}"}, timeout=10)
        assert changed.status_code == 200, changed.text
        eventually(lambda: len({row["cloid"] for row in _get(run, "fills", limit=100)}) >= 4, timeout=60, interval=0.2)
    finally:
        run.stop()
    return run.data_dir


def test_a_paper_session_replayed_against_its_recorded_book_gives_back_its_orders_funding_and_pnl(
        tmp_path: Path) -> None:
    data = _record_session(tmp_path)
    settings = Settings()
    settings.strategy.bar_interval = "1m"
    with connect(StorageSettings(dsn=f"chdb://{data / 'chdb'}", spill_dir=tmp_path / "spill")) as store:
        recording = load_store(store, "1m", ["ETH", "SOL"], depth=True)
        signals, timing = load_session(store, ["ETH/SOL"])
        session: Fills = store.query("SELECT cloid, coin, side, sz, px, fee, ts FROM fills FINAL")
        paid = store.query("SELECT coin, ts, usdc FROM funding_payments FINAL ORDER BY ts, coin")
    result = run_backtest(settings, recording, [("ETH", "SOL")], fill="book",
                          strategy_factory=recorded_factory(signals), session=timing)
    replayed: Fills = [(f.cloid or "", f.coin, f.side, f.sz, f.px, f.fee, f.ts) for f in result.fills]

    # The session held both legs across 10:00 and was paid or charged funding on each, then closed them.
    assert [(coin, ts) for coin, ts, _ in paid] == [("ETH", SETTLEMENT_MS), ("SOL", SETTLEMENT_MS)]
    assert all(usdc for *_, usdc in paid), paid
    assert [signal.reason for signal in signals["ETH/SOL"] if signal.reason != "hold"] == ["entry-long", "exit"]

    theirs, ours = _by_cloid(session), _by_cloid(replayed)
    assert len(theirs) == 4
    assert ours == theirs, [(ours.get(c), theirs.get(c)) for c in {*ours, *theirs} if ours.get(c) != theirs.get(c)][:4]
    their_fees, our_fees = _fees(session), _fees(replayed)
    for cloid, (fee, fills) in their_fees.items():
        assert abs(our_fees[cloid][0] - fee) <= 1e-6 * fills, (cloid, our_fees[cloid], fee)
    assert [(p.coin, p.ts, p.usdc) for p in result.funding] == paid
    assert abs(_cash(replayed) + sum(p.usdc for p in result.funding)
               - _cash(session) - sum(usdc for *_, usdc in paid)) <= 1e-6 * len(session)

    # The same replay from the command line (in this process: a second process would only add its start-up).
    cli_config = tmp_path / "replay.toml"
    cli_config.write_text(f'[storage]\ndsn = "chdb://{data / "chdb"}"\nspill_dir = "{tmp_path / "spill"}"\n'
                          '[strategy]\nbar_interval = "1m"\n')
    done = CliRunner().invoke(cli_app, ["backtest", "--config", str(cli_config), "--spreads", "ETH/SOL", "--mode", "recorded",
                                    "--fill", "book", "--no-save"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output[-2000:]
    assert f"{len(result.fills)} / {len(result.funding)}" in done.stdout and result.trades_hash[:16] in done.stdout
