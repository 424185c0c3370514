"""`pairflow db backup` / `db restore`: every table comes back row for row, and bad backups are refused."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app as cli_app
from pairflow import events
from pairflow.config import StorageSettings
from pairflow.errors import ConfigError
from pairflow.storage import Store, connect
from pairflow.storage.backup import backup, restore
from tests.integration.api_support import FinishedDemo
from tests.support.durability import directories_synced


def open_store(path: Path) -> Store:
    return connect(StorageSettings(dsn=f"chdb://{path}", spill_dir=path.parent / "spill"))


def table_fingerprints(store: Store, final: bool = False) -> dict[str, tuple[int, int]]:
    """Return ``{table: (rows, order-free sum of row hashes)}``: stored rows with duplicates, or FINAL's rows."""
    names = [
        name
        for (name,) in store.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine != 'View' ORDER BY name"
        )
    ]
    return {
        name: tuple(store.query(f"SELECT count(), sum(cityHash64(*)) FROM `{name}`{' FINAL' if final and store.is_replacing(name) else ''}")[0])
        for name in names
    }


def open_unmerged(path: Path) -> Store:
    """Open a store whose background merges are stopped, so unmerged duplicates stay as they were written."""
    store = open_store(path)
    store.command("SYSTEM STOP MERGES")
    return store


def trade(index: int, recv_ts: int, px: float) -> events.Trade:
    return events.Trade(
        ts=1_700_000_000_000 + index, recv_ts=recv_ts, id=f"ETH:{index}", coin="ETH",
        px=px, sz=0.5, side="B", tid=index, hash=f"0x{index:04x}",
    )


def insert_trades(store: Store, trades: list[events.Trade]) -> None:
    columns = store.table_columns("trades")
    store.insert_columns("trades", [[getattr(t, c) for t in trades] for c in columns], columns)


def write_sample(store: Store) -> None:
    """Trades with a replayed (duplicate) row in a second part, NaN and NULL values."""
    insert_trades(store, [trade(1, 1, 100.0), trade(2, 1, math.nan)])
    insert_trades(store, [trade(2, 5, 101.5)])  # a later version of trade 2, not merged yet
    store.command(
        "INSERT INTO bbo (ts, recv_ts, id, coin, bid_px, bid_sz, ask_px, ask_sz)"
        " VALUES (1, 2, 'b', 'ETH', NULL, NULL, 2000.5, 1.25)"
    )


def test_backup_and_restore_keep_every_row_including_unmerged_duplicates(tmp_path: Path) -> None:
    with open_unmerged(tmp_path / "source") as source:
        source.init_schema()
        write_sample(source)
        before = table_fingerprints(source)
        summary = backup(source, tmp_path / "backup")
    assert before["trades"][0] == 3 and summary.rows["trades"] == 3
    with open_unmerged(tmp_path / "target") as target:
        restored = restore(target, tmp_path / "backup")
        assert table_fingerprints(target) == before
        assert restored.rows == summary.rows
        assert target.count("trades") == 2  # FINAL still collapses the replay after a restore
        assert target.query("SELECT count() FROM trades_v")[0][0] == 2
        with pytest.raises(ConfigError, match="already holds data"):
            restore(target, tmp_path / "backup")


def test_backup_refuses_a_non_empty_directory_and_restore_a_missing_one(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    with open_store(tmp_path / "db") as store:
        store.init_schema()
        with pytest.raises(ConfigError, match="is not empty"):
            backup(store, tmp_path / "busy")
        with pytest.raises(ConfigError, match="manifest.json is missing"):
            restore(store, tmp_path / "nowhere")


def test_backup_into_a_file_or_an_uncreatable_directory_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    """These paths ended in a traceback from mkdir."""
    (tmp_path / "a-file").write_text("")
    with open_store(tmp_path / "db") as store:
        store.init_schema()
        with pytest.raises(ConfigError, match="backup target .*a-file is a file"):
            backup(store, tmp_path / "a-file")
        with pytest.raises(ConfigError, match="cannot create backup directory .*a-file/sub: Not a directory"):
            backup(store, tmp_path / "a-file" / "sub")
        with pytest.raises(ConfigError, match="cannot create backup directory /proc/pairflow-backup: No such file"):
            backup(store, Path("/proc/pairflow-backup"))
    assert (tmp_path / "a-file").read_text() == ""


@pytest.fixture
def taken(tmp_path: Path, schema_template: Path) -> Path:
    """Return a backup of the sample, taken from a copy of the session's empty schema (see tests/conftest.py)."""
    shutil.copytree(schema_template, tmp_path / "db", symlinks=True)
    with open_store(tmp_path / "db") as store:
        write_sample(store)
        backup(store, tmp_path / "backup")
    return tmp_path / "backup"


def test_a_backup_syncs_its_table_files_before_the_manifest_that_marks_it_complete(
        tmp_path: Path, schema_template: Path) -> None:
    shutil.copytree(schema_template, tmp_path / "db", symlinks=True)
    with open_store(tmp_path / "db") as store, directories_synced() as synced:
        write_sample(store)
        backup(store, tmp_path / "backup")
    assert synced == [tmp_path / "backup" / "tables", tmp_path / "backup", tmp_path]  # the last but one: the manifest's
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == ["manifest.json", "tables"]


def edit_manifest(directory: Path, change) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "tables" / "trades.native").write_bytes(b"garbage"), "trades.native does not match its checksum"),
        (lambda d: (d / "tables" / "bbo.native").unlink(), "tables/bbo.native is missing"),
        (lambda d: (d / "manifest.json").write_text("{not json"), "manifest .* is corrupt"),
        (lambda d: (d / "manifest.json").unlink(), "backup .* is incomplete: manifest.json is missing"),
        (lambda d: (d / "manifest.json").rename(d / ".manifest.json.4242-0.tmp"),  # killed while writing it
         "backup .* is incomplete: manifest.json is missing"),
        (lambda d: edit_manifest(d, lambda m: m["migrations"][-1].update(checksum="0" * 16)), "was taken at schema"),
        (lambda d: edit_manifest(d, lambda m: m["migrations"].pop()), "was taken at schema"),
        (lambda d: edit_manifest(d, lambda m: m.update(format_version=99)), "format version 99"),
        (lambda d: edit_manifest(d, lambda m: m["tables"][0].update(file="../../etc/passwd")), "malformed"),
    ],
)
def test_damaged_or_foreign_backups_are_refused_before_anything_is_written(taken: Path, tmp_path: Path, damage, message) -> None:
    damage(taken)
    with open_store(tmp_path / "fresh") as store:
        with pytest.raises(ConfigError, match=message):
            restore(store, taken)
        tables = store.query("SELECT count() FROM system.tables WHERE database = currentDatabase()")[0][0]
    assert tables == 0


def test_restore_from_a_directory_that_is_no_backup_leaves_no_store_behind(tmp_path: Path) -> None:
    """It created the target's chDB directory before reading the manifest."""
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "manifest.json").write_text("[1, 2]")
    for source, reason in ((tmp_path / "nowhere", "manifest.json is missing"), (tmp_path / "garbage", "is not a")):
        result = CliRunner().invoke(cli_app, ["db", "restore", str(source)],
                                    env={"PAIRFLOW_STORAGE__DSN": f"chdb://{tmp_path / 'target'}"})
        assert result.exit_code == 2 and reason in result.output, result.output
    assert not (tmp_path / "target").exists()


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=timeout)


def test_demo_data_survives_a_backup_and_restore_through_the_cli(trading_demo: FinishedDemo, tmp_path: Path) -> None:
    data = trading_demo.data_dir
    source_config = tmp_path / "source.toml"
    source_config.write_text(f'[storage]\ndsn = "chdb://{data / "chdb"}"\n')
    target_config = tmp_path / "target.toml"
    target_config.write_text(f'[storage]\ndsn = "chdb://{tmp_path / "restored"}"\n')

    taken = run_cli("db", "backup", str(tmp_path / "backup"), "--config", str(source_config))
    assert taken.returncode == 0, taken.stderr
    assert "backed up" in taken.stdout
    again = run_cli("db", "backup", str(tmp_path / "backup"), "--config", str(source_config))
    assert again.returncode == 2 and "is not empty" in again.stderr and "Traceback" not in again.stderr
    put_back = run_cli("db", "restore", str(tmp_path / "backup"), "--config", str(target_config))
    assert put_back.returncode == 0, put_back.stderr
    twice = run_cli("db", "restore", str(tmp_path / "backup"), "--config", str(target_config))
    assert twice.returncode == 2 and "already holds data" in twice.stderr

    # Background merges may collapse the source's duplicates after the backup, so the deduplicated content
    # is compared here; the rows as stored are compared by the test above, where merges are stopped.
    with open_store(data / "chdb") as source:
        expected = table_fingerprints(source, final=True)
    with open_store(tmp_path / "restored") as target:
        assert table_fingerprints(target, final=True) == expected
    assert expected["trades"][0] > 0 and expected["l2_snapshots"][0] > 0 and expected["fills"][0] > 0
