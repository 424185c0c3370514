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

from pairflow.storage.cluster import LOCAL_SUFFIX, check_cluster_name, local_table
from pairflow.storage.store import Store

__all__ = ["VIEW_SUFFIX", "deduplicates", "sync_views", "view_of"]

VIEW_SUFFIX = "_v"
_INTERNAL = frozenset({"schema_migrations"})


def view_of(table: str) -> str:
    """Return the name of the deduplicated view of ``table``."""
    return f"{table}{VIEW_SUFFIX}"


def sync_views(store: Store, cluster: str | None = None) -> list[str]:
    """Create or re-create the ``_v`` view of every ReplacingMergeTree table; return the views written.

    On a cluster the deduplicated tables are the Distributed ones over a
    replicated ReplacingMergeTree (`pairflow.storage.cluster`); their views are
    created ``ON CLUSTER`` when ``cluster`` is given, so every node has them.
    """
    engines = dict(store.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()"))
    tables = sorted(name for name in engines if name not in _INTERNAL and deduplicates(name, engines))
    columns: dict[str, list[str]] = {}
    for table, column in store.query(
        "SELECT table, name FROM system.columns WHERE database = currentDatabase() ORDER BY table, position"
    ):
        columns.setdefault(table, []).append(column)
    on = f" ON CLUSTER `{check_cluster_name(cluster)}`" if cluster else ""
    written = []
    for table in tables:
        view = view_of(table)
        if columns.get(view) == columns[table]:
            continue
        listed = ", ".join(f"`{column}`" for column in columns[table])
        store.command(f"CREATE OR REPLACE VIEW `{view}`{on} AS SELECT {listed} FROM `{table}` FINAL")
        written.append(view)
    return written


def deduplicates(table: str, engines: dict[str, str]) -> bool:
    """Return True when reading ``table`` with FINAL collapses replays: a ReplacingMergeTree, or a Distributed table over one.

    >>> deduplicates("trades", {"trades": "Distributed", "trades_local": "ReplicatedReplacingMergeTree"})
    True
    >>> deduplicates("trades_local", {"trades": "Distributed", "trades_local": "ReplicatedReplacingMergeTree"})
    False
    """
    engine = engines.get(table, "")
    if engine == "Distributed":
        return "ReplacingMergeTree" in engines.get(local_table(table), "")
    return "ReplacingMergeTree" in engine and not table.endswith(LOCAL_SUFFIX)
