"""A recorded paper session on the venue, replayed by the backtest, gives back that session's orders and PnL.

`pairflow demo` trades ETH/SOL on the venue's synthetic market and records everything in chDB: trades,
candles, signals, intents, orders, fills, and every book the venue published -- the venue publishes its
book after each market step (``venue.book_every_step``) and the collector stores each one at its own time
(``collector.book_interval_ms = 0``). The backtest replays the session's own signals (``--mode recorded``)
against that depth (``--fill book``), each order reaching the book when the session's did and the legs
of a spread going out in the session's order, hourly funding settling at the recorded oracle. Every order
comes back: same cloid, coin, side, size, fill prices and fill time; so do the funding payments. Fees only
to the micro-USDC: the venue rounds each fill's fee, and an order that met
two resting orders at one price filled twice in the session, once against the recorded level (a book
gives a level's total, not how it is split between orders). So the PnL from fills and funding is equal
to a few micro-USDC.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.backtest.modes import recorded_factory
from app.backtest.run import run_backtest
from app.backtest.session import load_session
from pairflow.config import Settings, StorageSettings
from pairflow.storage import connect
from sources.replay import load_store


Fills = list[tuple[str, str, str, float, float, float, int]]


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


def test_a_paper_session_replayed_against_its_recorded_book_gives_back_its_orders_and_pnl(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    config = tmp_path / "demo.toml"
    # The market starts at 09:54, so the session crosses 10:00: a spread held then (about a quarter of the runs)
    # pays funding, whose rate is polled every second. That a replay settles at the recorded oracle is shown
    # every run by test_backtest_book_fills.py.
    config.write_text('[venue]\ntrade_rate_per_minute = 60.0\nbook_every_step = true\nstart = "2026-01-05T09:54:00Z"\n'
                      "[collector]\nbook_interval_ms = 0\nfunding_poll_s = 1.0\n[strategy]\nentry_z = 1.5\nexit_z = 0.3\n")
    demo = subprocess.run([sys.executable, "-m", "app", "demo", "--duration", "12", "--speed", "30", "--coins",
                           "ETH,SOL", "--data-dir", str(data), "--config", str(config)],
                          capture_output=True, text=True, timeout=240)
    assert demo.returncode == 0, demo.stderr[-2000:]
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

    theirs, ours = _by_cloid(session), _by_cloid(replayed)
    assert len(theirs) >= 4
    assert ours == theirs, [(ours.get(c), theirs.get(c)) for c in {*ours, *theirs} if ours.get(c) != theirs.get(c)][:4]
    their_fees, our_fees = _fees(session), _fees(replayed)
    for cloid, (fee, fills) in their_fees.items():
        assert abs(our_fees[cloid][0] - fee) <= 1e-6 * fills, (cloid, our_fees[cloid], fee)
    assert [(p.coin, p.ts, p.usdc) for p in result.funding] == paid
    assert abs(_cash(replayed) + sum(p.usdc for p in result.funding)
               - _cash(session) - sum(usdc for *_, usdc in paid)) <= 1e-6 * len(session)

    # The same replay from the command line.
    cli_config = tmp_path / "replay.toml"
    cli_config.write_text(f'[storage]\ndsn = "chdb://{data / "chdb"}"\nspill_dir = "{tmp_path / "spill"}"\n'
                          '[strategy]\nbar_interval = "1m"\n')
    done = subprocess.run([sys.executable, "-m", "app", "backtest", "--config", str(cli_config), "--spreads",
                           "ETH/SOL", "--mode", "recorded", "--fill", "book", "--no-save"],
                          capture_output=True, text=True, timeout=240, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(result.fills)} / {len(result.funding)}" in done.stdout and result.trades_hash[:16] in done.stdout
