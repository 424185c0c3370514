"""pairflow optimize: walk-forward windows purged and embargoed, trials logged and reproducible, OOS verdict."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenGuard
from api.context import ApiContext
from app.backtest.optimize import optimize, slice_recording, trial_pbo
from pairflow.config import Settings, StorageSettings
from pairflow.storage import connect
from sources.replay import HOUR_MS, load_files

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
GOLDEN = [FIXTURES.parent / "backtest" / "perp_1h_ohlcv_2024-11_two_weeks.csv",
          FIXTURES.parent / "backtest" / "perp_funding_1h_2024-11_two_weeks.csv"]


def test_test_windows_follow_their_training_window_after_purge_and_embargo() -> None:
    settings = Settings()
    settings.strategy.bar_interval, settings.strategy.warmup_rows = "1h", 24
    settings.strategy.staleness_ms, settings.strategy.max_gap_ms = 3 * HOUR_MS, 10 * HOUR_MS
    recording = load_files(GOLDEN, ["ETH", "SOL"])
    result = optimize(settings, recording, [("ETH", "SOL")], folds=2, trials=2, jobs=1, embargo_ms=6 * HOUR_MS)
    for fold in result.folds:
        assert fold.test[0] - fold.train[1] >= 2 * 6 * HOUR_MS  # purged before, embargoed after the cut
        assert len(fold.trials) == 2 and fold.best in [params for params, _ in fold.trials]
    assert result.folds[0].test[1] <= result.folds[1].train[1] + 6 * HOUR_MS
    # The PBO takes every trial of both folds, on the days they all share (fold 0's training days).
    everyone = [series for fold in result.folds for series in fold.trial_returns]
    assert len(everyone) == 4 and result.pbo == trial_pbo(everyone) and result.pbo is not None



def test_a_window_keeps_the_oracle_prices_recorded_before_its_end() -> None:
    # A fold's hours settle at the oracle recorded last before each (sinks.simulated): one recorded before the
    # window may settle its first hour; one at or after its end is the future.
    recording = load_files(GOLDEN, ["ETH"])
    start = recording.start_ms + 24 * HOUR_MS
    recording.oracles = {"ETH": [(start - 1, 2000.0), (start + HOUR_MS, 2010.0), (start + 2 * HOUR_MS, 2020.0)]}
    window = slice_recording(recording, start, start + 2 * HOUR_MS)
    assert window.oracles == {"ETH": [(start - 1, 2000.0), (start + HOUR_MS, 2010.0)]}
    assert [bar.ts for bar in window.bars["ETH"]] == [start, start + HOUR_MS]

def test_optimize_command_logs_every_trial_and_repeats_itself(tmp_path: Path) -> None:
    config = tmp_path / "pairflow.toml"
    config.write_text(f'[storage]\ndsn = "chdb://{tmp_path / "db"}"\n[strategy]\nwarmup_rows = 24\n')
    logs, printed = [], []
    for run in range(2):
        log = tmp_path / f"trials{run}.jsonl"
        done = subprocess.run([sys.executable, "-m", "app", "optimize", "--config", str(config), "--spreads", "ETH/SOL",
                               "--folds", "2", "--trials", "3", "--jobs", "2", "--trials-log", str(log),
                               "--report", str(tmp_path / "optimize.html"),
                               *(arg for path in GOLDEN for arg in ("--data", str(path)))],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "out-of-sample Sharpe" in done.stdout and "deflated Sharpe ratio" in done.stdout and "PBO" in done.stdout
        logs.append([json.loads(line) for line in log.read_text().splitlines()])
        printed.append(re.search(r"out-of-sample Sharpe (\S+), deflated Sharpe ratio (\S+) .*PBO (\S+)",
                                 done.stdout.replace("\n", " ")).groups())
    assert len(logs[0]) == 6 and {(row["fold"], row["trial"]) for row in logs[0]} == {(f, n) for f in (0, 1)
                                                                                     for n in (1, 2, 3)}
    assert logs[0] == logs[1]
    store = connect(StorageSettings(dsn=f"chdb://{tmp_path / 'db'}"))
    try:
        stored = store.query("SELECT run_id, fold, trial, params, sharpe, trades FROM trials FINAL ORDER BY fold, trial")
        with TestClient(create_app(ApiContext(store=store, settings=Settings(), guard=TokenGuard("o" * 20)))) as client:
            served = client.get("/api/optimize-runs").json()
    finally:
        store.close()
    # Both runs stored the same six trials under one id, as logged, with their figures.
    assert len({row[0] for row in stored}) == 1 and len(stored) == 6
    assert [(f, n, json.loads(p)) for _, f, n, p, _, _ in stored] == [(r["fold"], r["trial"], r["params"]) for r in logs[0]]
    assert [s if s is not None else -10.0 for *_, s, _ in stored] == [r["train_sharpe"] for r in logs[0]]
    # The verdict printed is the one the API serves (one row for both runs, under the trials' id).
    fmt = lambda value: "n/a" if value is None else f"{value:.3f}"  # noqa: E731
    assert served["total"] == 1 and printed[0] == printed[1]
    (verdict,) = served["items"]
    assert verdict["id"] == stored[0][0] and verdict["spreads"] == ["ETH/SOL"]
    assert (verdict["folds"], verdict["trials"]) == (2, 6)
    assert (fmt(verdict["oos_sharpe"]), fmt(verdict["dsr"]), fmt(verdict["pbo"])) == printed[0]
    html = (tmp_path / "optimize.html").read_text()
    assert "parameter sensitivity: training Sharpe per trial" in html and "zscore_window" in html
