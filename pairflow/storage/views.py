"""Deduplicated views: ``<table>_v`` reads ``<table> FINAL`` for every ReplacingMergeTree table.

Tables written at-least-once keep duplicates until ClickHouse merges them, so
a plain SELECT can count a replayed event twice. Analysts and Grafana read the
``_v`` views instead and never have to remember FINAL.

The views are derived after the migrations instead of written in them: a
ClickHouse view fixes its column list when it is created, so a view written
once in a migration would silently miss every column a later migration adds.
`sync_views` (run by `Store.init_schema`) creates the missing views and
re-creates those whose columns no longer match their table's.
"""

from __future__ import annotations

from pairflow.storage.store import Store

__all__ = ["VIEW_SUFFIX", "sync_views", "view_of"]

VIEW_SUFFIX = "_v"
_INTERNAL = frozenset({"schema_migrations"})


def view_of(table: str) -> str:
    """Return the name of the deduplicated view of ``table``."""
    return f"{table}{VIEW_SUFFIX}"


def sync_views(store: Store) -> list[str]:
    """Create or re-create the ``_v`` view of every ReplacingMergeTree table; return the views written."""
    tables = [
        name
        for (name,) in store.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase()"
            " AND engine LIKE '%ReplacingMergeTree' ORDER BY name"
        )
        if name not in _INTERNAL
    ]
    columns: dict[str, list[str]] = {}
    for table, column in store.query(
        "SELECT table, name FROM system.columns WHERE database = currentDatabase() ORDER BY table, position"
    ):
        columns.setdefault(table, []).append(column)
    written = []
    for table in tables:
        view = view_of(table)
        if columns.get(view) == columns[table]:
            continue
        listed = ", ".join(f"`{column}`" for column in columns[table])
        store.command(f"CREATE OR REPLACE VIEW `{view}` AS SELECT {listed} FROM `{table}` FINAL")
        written.append(view)
    return written
