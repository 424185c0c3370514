"""The README's first command: the embedded demo stores real market data end to end."""

import subprocess
import sys

from pairflow.config import StorageSettings
from pairflow.storage import connect


def test_demo_runs_the_data_plane_and_the_strategy_and_keeps_the_data(tmp_path):
    data = tmp_path / "demo"
    config = tmp_path / "demo.toml"
    # A livelier market than the default, so the strategy warms up within the run.
    config.write_text("[venue]\ntrade_rate_per_minute = 60.0\n")
    done = subprocess.run(
        [sys.executable, "-m", "app", "demo", "--duration", "8", "--speed", "20", "--coins", "ETH,SOL",
         "--data-dir", str(data), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "data kept in" in done.stdout
    with connect(StorageSettings(dsn=f"chdb://{data / 'chdb'}", spill_dir=tmp_path / "spill")) as store:
        assert store.count("bbo") > 0
        assert store.count("l2_snapshots") > 0
        assert store.count("asset_ctx") > 0
        coins = {row["coin"] for row in store.query_dicts("SELECT DISTINCT coin FROM l2_snapshots")}
        assert coins == {"ETH", "SOL"}
        rows, unique = store.query("SELECT count(), uniqExact(id) FROM trades FINAL")[0]
        assert rows > 0 and rows == unique
        bars = store.query("SELECT sum(trades) FROM bars_1s FINAL")[0][0]
        assert 0 < bars <= rows
        signals = store.query_dicts("SELECT pair, legs, hedge_ratios, features, model_versions FROM signals FINAL")
        assert signals and {row["pair"] for row in signals} == {"ETH/SOL"}
        for row in signals:
            assert row["legs"] == ["ETH", "SOL"] and len(row["hedge_ratios"]) == 1
            assert {"zscore", "spread_vol", "cost", "funding_diff_per_hour"} <= set(row["features"])
            assert set(row["model_versions"]) == {"kalman"}
    assert "ETH/SOL" in done.stdout and "spreads (latest signal per spread)" in done.stdout
