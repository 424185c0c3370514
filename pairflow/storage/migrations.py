"""Versioned schema migrations: numbered ``NNNN_name.sql`` files in infra/clickhouse/.

Each file is applied once, in version order, and recorded in
``schema_migrations``; applying again changes nothing. Statements use
``IF NOT EXISTS`` so a file interrupted half-way can simply be re-run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from pairflow.clock import WALL_CLOCK
from pairflow.errors import StorageError
from pairflow.storage.cluster import cluster_statements

__all__ = ["MIGRATIONS_DIR", "Migration", "apply_migrations", "applied_versions", "load_migrations", "migration_ddl", "split_statements"]

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "infra" / "clickhouse"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    checksum String,
    applied_ts Int64
)
ENGINE = ReplacingMergeTree(applied_ts)
ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Path
    checksum: str

    def statements(self) -> list[str]:
        """Return the SQL statements of the file, comments removed."""
        return split_statements(self.path.read_text())


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Return the migration files of ``directory`` sorted by version; reject duplicate versions."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise StorageError(f"migration file {path.name} is not named NNNN_lower_case_name.sql")
        version = int(match.group(1))
        if version in found:
            raise StorageError(f"migration version {version:04d} is used by {found[version].path.name} and {path.name}")
        checksum = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        found[version] = Migration(version, match.group(2), path, checksum)
    return [found[version] for version in sorted(found)]


def split_statements(sql: str) -> list[str]:
    """Split a SQL script on semicolons after dropping ``--`` comment lines."""
    kept = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in kept.split(";") if statement.strip()]


def migration_ddl(cluster: str | None = None, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Return every statement a fresh store runs (the record table, then each migration), in cluster form with ``cluster``."""
    statements = [_BOOTSTRAP.strip()] + [statement for migration in load_migrations(directory) for statement in migration.statements()]
    return cluster_statements(statements, cluster) if cluster else statements


def applied_versions(store, cluster: str | None = None) -> dict[int, tuple[str, str, int]]:
    """Return ``{version: (name, checksum, applied_ts)}`` of migrations already applied (creating the record table)."""
    for statement in cluster_statements([_BOOTSTRAP], cluster) if cluster else [_BOOTSTRAP]:
        store.command(statement)
    rows = store.query("SELECT version, name, checksum, applied_ts FROM schema_migrations FINAL ORDER BY version")
    return {int(version): (name, checksum, int(applied_ts)) for version, name, checksum, applied_ts in rows}


def apply_migrations(store, directory: Path = MIGRATIONS_DIR, cluster: str | None = None) -> list[int]:
    """Apply every migration not yet recorded and return the versions applied now (in cluster form with ``cluster``).

    Raises
    ------
    StorageError
        When a statement fails (naming the file), or when an applied file was
        edited afterwards (its checksum changed) — add a new migration instead.
    """
    done = applied_versions(store, cluster)
    newly_applied = []
    for migration in load_migrations(directory):
        if migration.version in done:
            recorded = done[migration.version][1]
            if recorded != migration.checksum:
                raise StorageError(
                    f"migration {migration.path.name} changed after it was applied"
                    f" (checksum {recorded} recorded, {migration.checksum} now); add a new migration instead"
                )
            continue
        statements = migration.statements()
        for statement in cluster_statements(statements, cluster) if cluster else statements:
            try:
                store.command(statement)
            except StorageError as error:
                raise StorageError(f"migration {migration.path.name} failed: {error}") from error
        store.insert_columns(
            "schema_migrations",
            [[migration.version], [migration.name], [migration.checksum], [WALL_CLOCK.now_ms()]],
            ["version", "name", "checksum", "applied_ts"],
        )
        newly_applied.append(migration.version)
    return newly_applied
