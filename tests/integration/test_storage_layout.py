"""Storage helpers that need no engine: DSN paths, SQL splitting, migration file rules, spill files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pairflow.errors import StorageError
from pairflow.storage.migrations import MIGRATIONS_DIR, load_migrations, split_statements
from pairflow.storage.spill import Batch, SpillDirectory
from pairflow.storage.store import chdb_path_of


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("chdb:///abs/dir", "/abs/dir"),
        ("chdb:///./rel/dir", "rel/dir"),
        ("chdb://./rel/dir", "rel/dir"),
        ("chdb://rel", "rel"),
        ("chdb:///abs/dir/?x=1", "/abs/dir"),
    ],
)
def test_chdb_path_of(dsn: str, expected: str) -> None:
    assert chdb_path_of(dsn) == Path(os.path.realpath(expected))


def test_chdb_dsn_without_directory_is_an_error() -> None:
    with pytest.raises(StorageError, match="names no chDB directory"):
        chdb_path_of("chdb://")


def test_split_statements_ignores_semicolons_in_comments() -> None:
    sql = "-- a comment; with a semicolon\nCREATE TABLE a (x Int8) ENGINE = Memory;\n\n-- trailing;\nSELECT 1;\n"
    assert split_statements(sql) == ["CREATE TABLE a (x Int8) ENGINE = Memory", "SELECT 1"]


def test_shipped_migrations_are_numbered_without_gaps() -> None:
    versions = [migration.version for migration in load_migrations(MIGRATIONS_DIR)]
    assert versions == list(range(1, len(versions) + 1))


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["0001_a.sql", "0001_b.sql"], "migration version 0001 is used by 0001_a.sql and 0001_b.sql"),
        (["1_a.sql"], "migration file 1_a.sql is not named NNNN_lower_case_name.sql"),
    ],
)
def test_bad_migration_files_are_refused(tmp_path: Path, names: list[str], message: str) -> None:
    for name in names:
        (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(StorageError, match=message):
        load_migrations(tmp_path)


def test_spill_round_trip_and_claims(tmp_path: Path) -> None:
    spill = SpillDirectory(tmp_path, "trades")
    batch = Batch("trades", ["ts", "px", "tag"], [[1, 2, 3], [1.5, None, 2.5], ["a", "b", "c"]], 3)
    spill.save(batch)
    first, second = batch.halves()
    assert (first.rows, second.rows) == (1, 2)
    assert second.columns == [[2, 3], [None, 2.5], ["b", "c"]]
    [(claim, loaded)] = list(spill.claimed())
    assert loaded == batch
    assert spill.pending() == []
    spill.release(claim)
    assert len(spill.pending()) == 1
    [(claim, _)] = list(spill.claimed())
    spill.done(claim)
    assert list(spill.path.iterdir()) == []


def test_claims_of_dead_processes_are_released(tmp_path: Path) -> None:
    spill = SpillDirectory(tmp_path, "fills")
    saved = spill.save(Batch("fills", ["id"], [["x"]], 1))
    dead_pid = 2**22 + 12345
    saved.rename(saved.with_name(f"{saved.name}.claim-{dead_pid}"))
    live = spill.save(Batch("fills", ["id"], [["y"]], 1))
    live.rename(live.with_name(f"{live.name}.claim-{os.getpid()}"))
    assert spill.release_stale_claims() == 1
    assert [path.name for path in spill.pending()] == [saved.name]
