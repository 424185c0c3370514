"""Migration 0005 rebuilds the bar tables with a version that does not depend on insert order."""

from __future__ import annotations

from pathlib import Path

import msgspec

from pairflow import events
from pairflow.config import StorageSettings
from pairflow.storage import BatchWriter, connect
from pairflow.storage.migrations import apply_migrations, load_migrations
from tests.support.event_examples import example, read_back


def test_a_schema_with_the_old_bar_tables_keeps_their_rows(tmp_path: Path) -> None:
    """Rows written before the rebuild survive it."""
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    for migration in load_migrations():
        if migration.version < 5:
            (migrations / migration.path.name).write_text(migration.path.read_text())
    # Written before migration 0006 added the column, a bar reads back as not incomplete.
    bar = msgspec.structs.replace(example(events.Bar, filled=True), incomplete=False)
    with connect(StorageSettings(dsn=f"chdb://{tmp_path}/db", spill_dir=tmp_path / "spill")) as old:
        apply_migrations(old, migrations)
        writer = BatchWriter(old, "bars_1s", background=False)
        writer.add(bar)
        writer.flush()
        writer.close()
        old.init_schema()
        assert read_back(old, events.Bar, bar) == bar
        assert "ReplacingMergeTree(trades)" in old.query(
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'bars_1s'"
        )[0][0]
