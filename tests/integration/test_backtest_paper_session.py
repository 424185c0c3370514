"""A recorded paper session on the venue, replayed by the backtest, gives back that session's orders and PnL.

`pairflow demo` trades ETH/SOL on the venue's synthetic market and records everything in chDB: trades,
book snapshots (every second), candles, signals, intents, orders and fills. The backtest replays the
session's own signals (``--mode recorded``) against the recorded depth (``--fill book``). Tolerances:
at least 95% of the session's orders come back with the same cloid, coin, side and filled size (the
rest are the retries and unwinds that follow a leg filled in part on one side only: a book recorded
once a second is not the book the session met); their prices only as close as such a book allows
(each order's average price within 40 bp of the session's, the median within 10 bp); the net PnL
within 5 bp of the notional traded.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from app.backtest.modes import recorded_factory
from app.backtest.run import run_backtest
from pairflow.config import Settings, StorageSettings
from pairflow.storage import connect
from sources.replay import load_signals, load_store


def _by_cloid(fills: list[tuple[str, str, str, float, float]]) -> dict[str, tuple[str, str, float, float]]:
    """Return cloid -> (coin, side, total size, average price)."""
    out: dict[str, list] = {}
    for cloid, coin, side, sz, px in fills:
        out.setdefault(cloid, [coin, side, 0.0, 0.0])
        out[cloid][2] += sz
        out[cloid][3] += sz * px
    return {cloid: (coin, side, round(size, 8), notional / size) for cloid, (coin, side, size, notional) in out.items()}


def test_a_paper_session_replayed_against_its_recorded_book_gives_back_its_orders_and_pnl(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    config = tmp_path / "demo.toml"
    config.write_text("[venue]\ntrade_rate_per_minute = 60.0\n[strategy]\nentry_z = 1.5\nexit_z = 0.3\n")
    demo = subprocess.run([sys.executable, "-m", "app", "demo", "--duration", "20", "--speed", "30", "--coins",
                           "ETH,SOL", "--data-dir", str(data), "--config", str(config)],
                          capture_output=True, text=True, timeout=240)
    assert demo.returncode == 0, demo.stderr[-2000:]
    settings = Settings()
    settings.strategy.bar_interval = "1m"
    with connect(StorageSettings(dsn=f"chdb://{data / 'chdb'}", spill_dir=tmp_path / "spill")) as store:
        recording = load_store(store, "1m", ["ETH", "SOL"], depth=True)
        signals = load_signals(store, ["ETH/SOL"])
        session = store.query("SELECT cloid, coin, side, sz, px, fee FROM fills FINAL")
    result = run_backtest(settings, recording, [("ETH", "SOL")], fill="book",
                          strategy_factory=recorded_factory(signals))

    ours = _by_cloid([(f.cloid or "", f.coin, f.side, f.sz, f.px) for f in result.fills])
    theirs = _by_cloid([row[:5] for row in session])
    same = [cloid for cloid, order in theirs.items() if cloid in ours and ours[cloid][:3] == order[:3]]
    assert len(theirs) >= 4 and len(same) >= 0.95 * len(theirs), (len(same), len(theirs), len(ours))
    gaps_bp = [abs(ours[cloid][3] / theirs[cloid][3] - 1) * 1e4 for cloid in same]
    assert max(gaps_bp) < 40 and statistics.median(gaps_bp) < 10, sorted(gaps_bp)[-5:]

    # Both end flat: the net PnL is the cash the fills moved, fees included.
    def cash(rows: list[tuple[str, float, float, float]]) -> float:
        return -sum((sz if side == "B" else -sz) * px + fee for side, sz, px, fee in rows)

    session_pnl = cash([(side, sz, px, fee) for _, _, side, sz, px, fee in session])
    traded = sum(sz * px for *_, sz, px, _ in session)
    assert result.metrics is not None
    assert abs(result.metrics.pnl - session_pnl) < 5e-4 * traded, (result.metrics.pnl, session_pnl, traded)

    # The same replay from the command line.
    cli_config = tmp_path / "replay.toml"
    cli_config.write_text(f'[storage]\ndsn = "chdb://{data / "chdb"}"\nspill_dir = "{tmp_path / "spill"}"\n'
                          '[strategy]\nbar_interval = "1m"\n')
    done = subprocess.run([sys.executable, "-m", "app", "backtest", "--config", str(cli_config), "--spreads",
                           "ETH/SOL", "--mode", "recorded", "--fill", "book", "--no-save"],
                          capture_output=True, text=True, timeout=240, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(result.fills)} / {len(result.funding)}" in done.stdout and result.trades_hash[:16] in done.stdout
