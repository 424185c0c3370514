"""Storage against real chDB: schema migrations, persistence, deduplication, the `db` CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from pairflow import events
from pairflow.config import StorageSettings
from pairflow.errors import StorageError
from pairflow.storage import BatchWriter, Store, connect, table_for
from pairflow.storage.migrations import load_migrations

REPO = Path(__file__).resolve().parents[2]


def trade(index: int, coin: str = "BTC", recv_ts: int = 1) -> events.Trade:
    return events.Trade(
        ts=1_700_000_000_000 + index, recv_ts=recv_ts, id=f"{coin}:{index}", coin=coin,
        px=100.0 + index / 100, sz=0.5, side="B" if index % 2 else "A", tid=index, hash=f"0x{index:04x}",
    )


def schema_snapshot(store: Store) -> list[tuple]:
    return store.query(
        "SELECT name, engine_full, create_table_query FROM system.tables"
        " WHERE database = currentDatabase() ORDER BY name"
    )


def test_schema_applies_twice_without_change(store: Store) -> None:
    before = schema_snapshot(store)
    recorded = "SELECT version, name, checksum, applied_ts FROM schema_migrations ORDER BY version"
    migrations_before = store.query(recorded)
    assert store.init_schema() == []
    assert schema_snapshot(store) == before
    assert store.query(recorded) == migrations_before
    assert [row[0] for row in migrations_before] == [m.version for m in load_migrations()]


def test_every_design_table_exists(store: Store) -> None:
    expected = {
        "trades", "l2_snapshots", "bbo", "candles", "bars_1s", "bars_1m", "funding", "asset_ctx", "fees",
        "pair_stats", "signals", "orders", "fills", "positions", "pnl", "risk_metrics", "alerts", "logs",
        "gaps", "backtest_runs", "backtest_trades", "trials", "optimize_runs", "schema_migrations",
    }
    tables = {row[0] for row in store.query("SELECT name FROM system.tables WHERE database = currentDatabase()")}
    assert expected <= tables


def test_columns_match_event_fields(store: Store) -> None:
    from pairflow.storage.tables import TABLE_OF_EVENT

    for event_type, table in TABLE_OF_EVENT.items():
        assert store.table_columns(table) == list(event_type.__struct_fields__), table
    for table in ("bars_1s", "bars_1m"):
        assert store.table_columns(table) == list(events.Bar.__struct_fields__)


def test_edited_applied_migration_is_refused(store: Store, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    for migration in load_migrations():
        (directory / migration.path.name).write_text(migration.path.read_text())
    first = directory / load_migrations()[0].path.name
    first.write_text(first.read_text() + "\n-- edited\n")
    from pairflow.storage.migrations import apply_migrations

    with pytest.raises(StorageError, match=r"0001_market_data\.sql changed after it was applied"):
        apply_migrations(store, directory)


def test_reinserting_the_same_events_changes_no_query_result(store: Store) -> None:
    fills = [
        events.Fill(ts=1_700_000_000_000 + i, recv_ts=5, id=f"fill-{i}", coin="ETH", oid=i, px=2000.0 + i,
                    sz=0.1, side="B", fee=0.01, closed_pnl=0.0, crossed=True)
        for i in range(50)
    ]
    trades = [trade(i) for i in range(500)]
    queries = [
        ("SELECT count(), sum(sz), sum(px * sz) FROM trades FINAL", None),
        ("SELECT coin, count(), sum(fee) FROM fills FINAL GROUP BY coin", None),
    ]
    with BatchWriter(store, "trades", background=False) as writer:
        writer.add_many(trades)
    with BatchWriter(store, "fills", background=False) as writer:
        writer.add_many(fills)
    first = [store.query(sql, params) for sql, params in queries]
    first_rows = store.select("trades", order_by="coin, ts, id")
    for _ in range(2):
        with BatchWriter(store, "trades", background=False) as writer:
            writer.add_many(trades[::-1])
        with BatchWriter(store, "fills", background=False) as writer:
            for fill in fills:
                writer.add(fill)
    assert store.query("SELECT count() FROM trades")[0][0] == 1500
    assert [store.query(sql, params) for sql, params in queries] == first
    assert store.select("trades", order_by="coin, ts, id") == first_rows
    assert store.count("trades") == 500
    assert store.count("fills") == 50
    assert first_rows[0] == {
        "ts": 1_700_000_000_000, "recv_ts": 1, "id": "BTC:0", "coin": "BTC", "px": 100.0, "sz": 0.5,
        "side": "A", "tid": 0, "hash": "0x0000",
    }


def test_latest_version_of_a_growing_candle_wins(store: Store) -> None:
    def candle(close: float, volume: float, recv_ts: int) -> events.Candle:
        return events.Candle(ts=1_700_000_040_000, recv_ts=recv_ts, id="BTC:1m:1700000040000", coin="BTC",
                             interval="1m", close_ts=1_700_000_099_999, open=10.0, high=12.0, low=9.0,
                             close=close, volume=volume, trades=3)

    with BatchWriter(store, "candles", background=False) as writer:
        writer.add(candle(11.0, 1.0, recv_ts=1))
        writer.add(candle(11.5, 2.0, recv_ts=3))
        writer.add(candle(11.2, 1.5, recv_ts=2))
    rows = store.select("candles", columns="close, volume, recv_ts")
    assert rows == [{"close": 11.5, "volume": 2.0, "recv_ts": 3}]


def test_event_types_route_to_tables() -> None:
    bar = events.Bar(ts=0, id="b", coin="BTC", interval="1m", open=1, high=1, low=1, close=1, volume=1,
                     notional=1, vwap=1, trades=1, buy_volume=1, sell_volume=0)
    assert table_for(bar) == "bars_1m"
    assert table_for(trade(1)) == "trades"
    book = events.L2Book(ts=0, id="x", coin="BTC", bids=(), asks=())
    with pytest.raises(KeyError, match="no table stores L2Book events"):
        table_for(book)


def test_nullable_and_array_columns_round_trip(store: Store) -> None:
    snapshot = events.BookSnapshot(ts=1_700_000_000_000, recv_ts=2, id="s1", coin="SOL", bid_px=(10.0, 9.9),
                                   bid_sz=(1.0, 2.0), ask_px=(10.1,), ask_sz=(3.0,), mid=10.05, spread_bps=None,
                                   imbalance=-0.2)
    bbo = events.Bbo(ts=1_700_000_000_000, recv_ts=2, id="b1", coin="SOL", bid_px=None, bid_sz=None,
                     ask_px=10.1, ask_sz=3.0)
    with BatchWriter(store, "l2_snapshots", background=False) as writer:
        writer.add(snapshot)
    with BatchWriter(store, "bbo", background=False) as writer:
        writer.add(bbo)
    row = store.select("l2_snapshots")[0]
    assert events.BookSnapshot(**{**row, "bid_px": tuple(row["bid_px"]), "bid_sz": tuple(row["bid_sz"]),
                                  "ask_px": tuple(row["ask_px"]), "ask_sz": tuple(row["ask_sz"])}) == snapshot
    assert events.Bbo(**store.select("bbo")[0]) == bbo


def test_connect_shares_one_chdb_engine_per_directory(tmp_path: Path, store: Store) -> None:
    location = store.location.removeprefix("chDB at ")
    second = connect(StorageSettings(dsn=f"chdb://{location}"))
    relative = Path(os.path.relpath(location))
    third = connect(StorageSettings(dsn=f"chdb:///./{relative}"))
    assert second.count("trades") == third.count("trades") == 0
    second.close()
    third.close()
    assert store.count("trades") == 0
    with pytest.raises(StorageError, match=r"chDB can open one directory per process: .* is open, so .* cannot be"):
        connect(StorageSettings(dsn=f"chdb://{tmp_path}/elsewhere"))


def test_unreachable_server_is_a_one_line_storage_error() -> None:
    from tests.helpers import free_port

    store = connect(StorageSettings(dsn=f"http://127.0.0.1:{free_port()}/default"))
    assert store.ping() is False
    with pytest.raises(StorageError, match=r"^cannot reach ClickHouse at http://127\.0\.0\.1:\d+/default: ") as caught:
        store.query("SELECT 1")
    assert "\n" not in str(caught.value)
    store.close()


WRITE_SCRIPT = textwrap.dedent(
    """
    import sys
    from pairflow import events
    from pairflow.config import StorageSettings
    from pairflow.storage import BatchWriter, connect
    store = connect(StorageSettings(dsn=sys.argv[1]))
    store.init_schema()
    start, count = int(sys.argv[2]), int(sys.argv[3])
    with BatchWriter(store, "trades", background=False, spill_dir=sys.argv[4]) as writer:
        for i in range(start, start + count):
            writer.add(events.Trade(ts=1_700_000_000_000 + i, recv_ts=i, id=str(i), coin="ETH", px=1.0 + i,
                                    sz=1.0, side="B"))
    print(store.count("trades"), store.query("SELECT sum(px) FROM trades FINAL")[0][0])
    """
)


def run_writer(dsn: str, start: int, count: int, spill: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", WRITE_SCRIPT, dsn, str(start), str(count), str(spill)],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_data_persists_across_process_restarts(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path}/persist"
    spill = tmp_path / "spill"
    assert run_writer(dsn, 0, 1000, spill) == f"1000 {sum(1.0 + i for i in range(1000))}"
    assert run_writer(dsn, 500, 1000, spill) == f"1500 {sum(1.0 + i for i in range(1500))}"


def test_db_init_is_idempotent_and_status_counts_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = f"chdb://{tmp_path}/cli"
    run_writer(dsn, 0, 25, tmp_path / "spill")
    monkeypatch.setenv("PAIRFLOW_STORAGE__DSN", dsn)
    runner = CliRunner()
    again = runner.invoke(app, ["db", "init"])
    assert again.exit_code == 0, again.output
    assert again.output.strip().endswith("schema is up to date")
    status = runner.invoke(app, ["db", "status"], env={"COLUMNS": "200"})
    assert status.exit_code == 0, status.output
    trades_line = next(line for line in status.output.splitlines() if " trades " in line)
    assert "25" in trades_line.split()
    assert "0004" in status.output and "pending" not in status.output
    monkeypatch.setenv("PAIRFLOW_STORAGE__DSN", f"chdb://{tmp_path}/fresh")
    fresh = runner.invoke(app, ["db", "init"])
    assert fresh.exit_code == 0, fresh.output
    assert "applied migrations 0001, 0002, 0003, 0004" in fresh.output
