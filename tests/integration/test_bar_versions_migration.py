"""Migrations 0005 and 0012 rebuild the bar tables with a version that does not depend on insert order."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

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
        assert "ReplacingMergeTree(version)" in old.query(
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'bars_1s'"
        )[0][0]


@pytest.mark.parametrize("order", ["mark inserted last", "mark inserted first"])
def test_the_incomplete_mark_wins_a_tie_and_more_trades_win_over_it_in_any_insert_order(
    tmp_path: Path, order: str
) -> None:
    """The operator re-emits a bar marked incomplete with the same trade count; a replay may insert either first."""
    bar = msgspec.structs.replace(example(events.Bar, filled=True), incomplete=False, trades=7)
    marked = msgspec.structs.replace(bar, incomplete=True)
    corrected = msgspec.structs.replace(bar, trades=8, volume=bar.volume + 1.0)
    with connect(StorageSettings(dsn=f"chdb://{tmp_path}/db", spill_dir=tmp_path / "spill")) as store:
        store.init_schema()
        writer = BatchWriter(store, "bars_1s", background=False)
        for version in ([bar, marked] if order == "mark inserted last" else [marked, bar]):
            writer.add(version)
            writer.flush()  # one insert each: a single block would be collapsed on insert, hiding the order
        assert read_back(store, events.Bar, bar) == marked
        assert store.query("SELECT incomplete FROM bars_1s_v WHERE id = {id:String}", {"id": bar.id}) == [(True,)]
        writer.add(corrected)
        writer.flush()
        writer.close()
        assert read_back(store, events.Bar, bar) == corrected
