"""The README's first command: the embedded demo stores real market data end to end."""

import re
import signal
import subprocess
import sys
import time

import httpx

from pairflow.config import StorageSettings
from pairflow.storage import connect
from tests.helpers import eventually, free_port
from tests.metrics_support import metric_sum, scrape

_UI_LINE = re.compile(r"^web UI (http://\S+)/\?token=(\S+)")
_TRADES_OUT = re.compile(r'^pairflow_collector_messages_out_total\{topic="md\.trades"\} (\S+)$', re.MULTILINE)


def test_demo_runs_the_data_plane_and_the_strategy_keeps_the_data_and_serves_metrics(tmp_path):
    """With the demo's own market pace (no config) the strategy signals within the run.

    SIGTERM (a container or service stop) then ends the demo cleanly with exit 0, like Ctrl-C.
    """
    data = tmp_path / "demo"
    port = free_port()
    command = [sys.executable, "-m", "app", "demo", "--speed", "20", "--coins", "ETH,SOL",
               "--data-dir", str(data), "--metrics-port", str(port)]
    out = tmp_path / "demo.out"
    with out.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.PIPE, text=True)
    try:
        def trades_counted() -> float:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.TransportError:  # not listening yet
                return 0.0
            found = _TRADES_OUT.search(text)
            return float(found.group(1)) if found else 0.0

        ui = eventually(lambda: _UI_LINE.match(out.read_text()), timeout=60, interval=0.2)
        assert eventually(trades_counted, timeout=60, interval=0.5) > 0
        time.sleep(1.0)  # a few more books and trades, live rather than replayed
        lags = scrape(port)

        def signals_stored() -> int:
            health = httpx.get(f"{ui.group(1)}/api/health", headers={"Authorization": f"Bearer {ui.group(2)}"}, timeout=5)
            return health.json()["tables"]["signals"]

        assert eventually(signals_stored, timeout=90, interval=0.5) > 0
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr
    stdout = out.read_text()
    assert "stopping ..." in stdout and "data kept in" in stdout
    assert f"metrics :{port}" in stdout
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
    assert "ETH/SOL" in stdout and "spreads (latest signal per spread)" in stdout
    # Lag is measured on the venue's clock (20x wall time here): positive, and within a wall second.
    for channel in ("trades", "l2Book", "bbo"):
        count = metric_sum(lags, "pairflow_collector_lag_seconds_count", channel=channel)
        total = metric_sum(lags, "pairflow_collector_lag_seconds_sum", channel=channel)
        assert count > 0 and 0 < total / count < 20.0, (channel, total, count)
