"""The README's first command: the embedded demo stores real market data end to end."""

import subprocess
import sys

from pairflow.config import StorageSettings
from pairflow.storage import connect


def test_demo_runs_the_data_plane_and_keeps_the_data(tmp_path):
    data = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "app", "demo", "--duration", "8", "--speed", "5", "--coins", "ETH,SOL", "--data-dir", str(data)],
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
