"""BatchWriter against real chDB: batching, retry, spill, replay, backpressure, metrics, log mirroring."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from pairflow import events
from pairflow.config import LoggingSettings, StorageSettings
from pairflow.errors import StorageError
from pairflow.logs import configure_logging, get_logger
from pairflow.metrics import serve_metrics, stop_metrics
from pairflow.storage import BatchWriter, Store, connect
from tests.helpers import eventually, free_port
from tests.metrics_support import sample

FAST_RETRY = StorageSettings(retry_attempts=2, retry_backoff_s=0.01, retry_backoff_max_s=0.02)


def trades(start: int, count: int, coin: str = "BTC") -> list[events.Trade]:
    return [
        events.Trade(ts=1_700_000_000_000 + i, recv_ts=i, id=f"{coin}:{i}", coin=coin, px=50.0 + i % 7, sz=0.25,
                     side="B")
        for i in range(start, start + count)
    ]


def test_flushes_on_size_and_on_age(store: Store, tmp_path: Path) -> None:
    writer = BatchWriter(store, "trades", max_rows=100, max_age_s=0.2, spill_dir=tmp_path / "spill")
    writer.add_many(trades(0, 250))
    assert store.count("trades") == 250
    writer.add_many(trades(250, 30))
    assert store.count("trades") == 250
    eventually(lambda: store.count("trades") == 280, timeout=10)
    writer.close()


def test_accepts_events_tuples_dicts_and_columns(store: Store, tmp_path: Path) -> None:
    with BatchWriter(store, "trades", background=False, spill_dir=tmp_path / "spill") as writer:
        writer.add(trades(0, 1)[0])
        writer.add((1_700_000_000_001, 9, "t1", "ETH", 2.0, 3.0, "A", 7, "h"))
        writer.add({"ts": 1_700_000_000_002, "recv_ts": 9, "id": "t2", "coin": "ETH", "px": 2.5, "sz": 1.0,
                    "side": "B", "tid": 8, "hash": ""})
        n = 1000
        writer.add_columns({
            "ts": np.arange(n, dtype=np.int64) + 1_700_000_001_000, "recv_ts": np.zeros(n, dtype=np.int64),
            "id": [f"c{i}" for i in range(n)], "coin": ["SOL"] * n, "px": np.full(n, 3.0), "sz": np.full(n, 0.5),
            "side": ["A"] * n, "tid": np.arange(n, dtype=np.uint64), "hash": [""] * n,
        })
        with pytest.raises(ValueError, match="columns for trades have different lengths"):
            writer.add_columns([[1], [1, 2], ["x"], ["B"], [1.0], [1.0], ["B"], [0], [""]])
        with pytest.raises(ValueError, match="row for trades has 2 values, expected 9"):
            writer.add((1, 2))
        with pytest.raises(ValueError, match="Candle cannot be written to trades: no field for column"):
            writer.add(events.Candle(ts=0, id="c", coin="BTC", interval="1m", close_ts=1, open=1, high=1, low=1,
                                     close=1, volume=1, trades=1))
    rows = store.query("SELECT coin, count(), sum(px * sz) FROM trades FINAL GROUP BY coin ORDER BY coin")
    assert rows == [("BTC", 1, 50.0 * 0.25), ("ETH", 2, 2.0 * 3.0 + 2.5), ("SOL", n, 3.0 * 0.5 * n)]


def test_survives_a_server_that_is_down_then_replays_into_the_store(store: Store, tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    down = connect(StorageSettings(dsn=f"http://127.0.0.1:{free_port()}/default"))
    retried_before = sample("pairflow_storage_rows_retried_total", table="trades")
    spilled_before = sample("pairflow_storage_rows_spilled_total", table="trades")
    writer = BatchWriter(down, "trades", columns=list(events.Trade.__struct_fields__), settings=FAST_RETRY,
                         max_rows=400, spill_dir=spill, background=False)
    for start, count in ((0, 400), (400, 400), (800, 200)):
        writer.add_many(trades(start, count))
    writer.close()
    assert writer.held_rows == 0
    assert isinstance(writer.last_error, StorageError)
    assert "cannot reach ClickHouse" in str(writer.last_error)
    assert len(list((spill / "trades").glob("*.spill"))) == 3
    assert sample("pairflow_storage_rows_spilled_total", table="trades") - spilled_before == 1000
    assert sample("pairflow_storage_rows_retried_total", table="trades") - retried_before == 2 * 1000
    down.close()

    replayed_before = sample("pairflow_storage_rows_replayed_total", table="trades")
    with BatchWriter(store, "trades", settings=FAST_RETRY, spill_dir=spill, background=False) as recovered:
        assert store.count("trades") == 1000
        recovered.add_many(trades(1000, 10))
    assert sample("pairflow_storage_rows_replayed_total", table="trades") - replayed_before == 1000
    assert store.query("SELECT count(), sum(px) FROM trades")[0] == (1010, sum(t.px for t in trades(0, 1010)))
    assert list((spill / "trades").glob("*")) == []


def test_same_writer_spills_while_table_is_gone_and_replays_when_it_returns(store: Store, tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    writer = BatchWriter(store, "trades", settings=FAST_RETRY, max_rows=500, max_age_s=0.05, spill_dir=spill)
    writer.add_many(trades(0, 500))
    assert store.count("trades") == 500
    store.command("DETACH TABLE trades")
    writer.add_many(trades(500, 700))
    assert writer.held_rows == 0
    assert len(list((spill / "trades").glob("*.spill*"))) == 1  # the background thread may hold a replay claim
    store.command("ATTACH TABLE trades")
    writer.add_many(trades(1200, 300))
    eventually(lambda: store.count("trades") == 1500, timeout=10)
    writer.close()
    assert store.query("SELECT count(), uniqExact(id) FROM trades")[0] == (1500, 1500)
    assert list((spill / "trades").glob("*")) == []


def test_unwritable_spill_keeps_rows_in_memory_then_backpressure_then_recovery(store: Store, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a regular file where the spill directory should be")
    writer = BatchWriter(store, "trades", settings=FAST_RETRY, max_rows=1000, buffer_max_rows=600,
                         spill_dir=blocker / "spill", background=False)
    store.command("DETACH TABLE trades")
    writer.add_many(trades(0, 400))
    with pytest.raises(StorageError) as caught:
        writer.flush()
    message = str(caught.value)
    assert message.startswith(f"cannot spill 400 rows of trades to {blocker}/spill/trades: ")
    assert message.endswith("rows are kept in memory")
    assert "\n" not in message
    assert writer.held_rows == 400
    writer.add_many(trades(400, 200))
    with pytest.raises(StorageError, match=r"writer for trades is full \(600 rows held, limit 600\); rows were not"):
        writer.add(trades(600, 1)[0])
    assert writer.held_rows == 600

    store.command("ATTACH TABLE trades")
    assert writer.flush() == 600
    writer.add(trades(600, 1)[0])
    writer.close()
    assert store.query("SELECT count(), uniqExact(id) FROM trades")[0] == (601, 601)


def test_replay_survives_a_second_outage(store: Store, tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    writer = BatchWriter(store, "trades", settings=FAST_RETRY, spill_dir=spill, background=False)
    store.command("DETACH TABLE trades")
    writer.add_many(trades(0, 100))
    writer.flush()
    writer.add_many(trades(100, 100))
    writer.flush()
    assert len(list((spill / "trades").glob("*.spill"))) == 2
    assert writer.flush() == 0
    store.command("ATTACH TABLE trades")
    writer.close()
    assert store.count("trades") == 200
    assert list((spill / "trades").glob("*")) == []


def test_metrics_endpoint_reports_writer_counters(store: Store, tmp_path: Path) -> None:
    port = serve_metrics(0)
    try:
        with BatchWriter(store, "funding", spill_dir=tmp_path / "spill", background=False) as writer:
            writer.add(events.Funding(ts=1_700_000_000_000, recv_ts=1, id="f1", coin="BTC", rate=0.0001))
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        stop_metrics(port)
    assert 'pairflow_storage_rows_written_total{table="funding"}' in body
    assert 'pairflow_storage_flush_seconds_count{table="funding"}' in body
    assert 'pairflow_storage_buffered_rows{table="funding"} 0.0' in body


def test_logs_are_redacted_and_mirrored_into_clickhouse(store: Store, tmp_path: Path) -> None:
    out = io.StringIO()
    writer = BatchWriter(store, "logs", spill_dir=tmp_path / "spill", background=False)
    configure_logging(LoggingSettings(level="INFO", to_clickhouse=True), writer=writer, stream=out)
    try:
        log = get_logger("pairflow.test")
        log.info("order sent", coin="BTC", api_token="tok-123", signing={"private_key": "0xabc", "oid": 7})
        log.debug("not emitted")
        writer.flush()
    finally:
        configure_logging(LoggingSettings(level="INFO"), stream=io.StringIO())
        writer.close()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["order sent"]
    assert lines[0]["api_token"] == "<redacted>"
    assert lines[0]["signing"] == {"private_key": "<redacted>", "oid": 7}
    assert "tok-123" not in out.getvalue() and "0xabc" not in out.getvalue()
    rows = store.select("logs", columns="level, logger, message, fields")
    assert len(rows) == 1
    assert rows[0]["level"] == "info" and rows[0]["logger"] == "pairflow.test" and rows[0]["message"] == "order sent"
    assert json.loads(rows[0]["fields"]) == {"coin": "BTC", "api_token": "<redacted>",
                                             "signing": {"private_key": "<redacted>", "oid": 7}}


def test_bad_rows_are_isolated_and_kept_while_good_rows_are_stored(store: Store, tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    rejected_before = sample("pairflow_storage_rows_rejected_total", table="trades")
    good = [_row(event) for event in trades(0, 300)]
    bad_price = (1_700_000_000_500, 1, "bad-px", "BTC", "not a number", 1.0, "B", 0, "")
    bad_size = (1_700_000_000_501, 1, "bad-sz", "BTC", 1.0, None, "B", 0, "")
    with BatchWriter(store, "trades", settings=FAST_RETRY, spill_dir=spill, background=False) as writer:
        for row in good[:100] + [bad_price] + good[100:250] + [bad_size] + good[250:]:
            writer.add(row)
        assert writer.flush() == 300
    assert store.count("trades") == 300
    assert sample("pairflow_storage_rows_rejected_total", table="trades") - rejected_before == 2
    assert len(list((spill / "trades" / "rejected").glob("*.spill"))) == 2
    assert list((spill / "trades").glob("*.spill")) == []


def test_bad_rows_in_a_spilled_batch_do_not_block_replay(store: Store, tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    good = [_row(event) for event in trades(0, 64)]
    bad = (1_700_000_000_900, 1, "bad", "BTC", "x", 1.0, "B", 0, "")
    with BatchWriter(store, "trades", settings=FAST_RETRY, spill_dir=spill, background=False) as writer:
        store.command("DETACH TABLE trades")
        for row in good[:10] + [bad] + good[10:]:
            writer.add(row)
        writer.flush()
        assert len(list((spill / "trades").glob("*.spill"))) == 1
        store.command("ATTACH TABLE trades")
        writer.add(_row(trades(64, 1)[0]))
    assert store.count("trades") == 65
    assert list((spill / "trades").glob("*.spill")) == []
    assert len(list((spill / "trades" / "rejected").glob("*.spill"))) == 1


def _row(event: events.Trade) -> tuple:
    import msgspec

    return msgspec.structs.astuple(event)


def test_start_logging_mirrors_a_command_log_into_clickhouse(tmp_path: Path) -> None:
    code = (
        "from pairflow.config import load_settings\n"
        "from pairflow.logs import get_logger, start_logging\n"
        "settings = load_settings()\n"
        "start_logging(settings)\n"
        "get_logger('pairflow.check').warning('mirrored line', api_token='hunter2')\n"
    )
    env = dict(
        os.environ,
        PAIRFLOW_CONFIG=str(tmp_path / "none.toml"),
        PAIRFLOW_STORAGE__DSN=f"chdb://{tmp_path / 'db'}",
        PAIRFLOW_STORAGE__SPILL_DIR=str(tmp_path / "spill"),
        PAIRFLOW_LOGGING__TO_CLICKHOUSE="true",
    )
    (tmp_path / "none.toml").write_text("")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    with connect(StorageSettings(dsn=f"chdb://{tmp_path / 'db'}", spill_dir=tmp_path / "spill")) as store:
        rows = store.select("logs", "level, logger, message, fields", where="message = 'mirrored line'")
    assert len(rows) == 1
    assert rows[0]["level"] == "warning" and rows[0]["logger"] == "pairflow.check"
    assert "hunter2" not in rows[0]["fields"]
