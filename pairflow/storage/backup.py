"""Backups of the store as one Native file per table plus a manifest, restorable bit for bit.

ClickHouse's own BACKUP needs a server-side ``backups.allowed_path`` (embedded
chDB has none), so a backup here is an export anyone can copy: every table's
stored rows (duplicates not yet merged included) in Native format, which keeps
each value's exact type and bytes, and ``manifest.json`` naming the schema
version (the applied migrations and their checksums), each file's row count and
SHA-256. Restore checks all of that before it writes anything, so a backup
from another schema version or a damaged file is refused with nothing changed.
The manifest is what marks a backup complete, so it is written last, after
every table file and their names are synced to the disk, and atomically
(`pairflow.durable_file`): a backup interrupted before its manifest, by a
kill or a power loss, is refused as incomplete, never restored in part.
The ``_v`` views are not saved: `Store.init_schema` derives them again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairflow.clock import WALL_CLOCK
from pairflow.durable_file import sync_directory, write_bytes
from pairflow.errors import ConfigError, StorageError
from pairflow.storage.migrations import applied_versions, load_migrations
from pairflow.storage.store import Store

__all__ = ["FORMAT", "FORMAT_VERSION", "BackupSummary", "backup", "check_manifest", "restore"]

FORMAT = "pairflow-backup"
FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_TABLES_DIR = "tables"
_MIGRATIONS_TABLE = "schema_migrations"


@dataclass(frozen=True)
class BackupSummary:
    """What a backup or restore moved: rows per table."""

    directory: Path
    rows: dict[str, int]

    @property
    def total_rows(self) -> int:
        """Return the number of rows over all tables."""
        return sum(self.rows.values())


def backup(store: Store, directory: Path) -> BackupSummary:
    """Write every table of ``store`` into ``directory`` (which must be missing or empty).

    Raises
    ------
    ConfigError
        When ``directory`` exists and is not an empty directory, or cannot be created.
    StorageError
        When the store has no schema or fails while exporting.
    """
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"backup target {directory} is a file; name a new or empty directory")
    if directory.exists() and any(directory.iterdir()):
        raise ConfigError(f"backup target {directory} is not empty; name a new or empty directory")
    applied = applied_versions(store)
    if not applied:
        raise StorageError(f"{store.location} has no schema to back up; run `pairflow db init` first")
    try:
        (directory / _TABLES_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create backup directory {directory}: {error.strerror}") from None
    entries = []
    rows: dict[str, int] = {}
    for table in _tables(store):
        file = directory / _TABLES_DIR / f"{table}.native"
        count = _raw_count(store, table)
        store.export_native(table, file)
        rows[table] = count
        entries.append({"name": table, "rows": count, "file": f"{_TABLES_DIR}/{file.name}", "sha256": _sha256(file)})
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_ms": WALL_CLOCK.now_ms(),
        "source": store.location,
        "migrations": [{"version": v, "name": name, "checksum": checksum} for v, (name, checksum, _) in sorted(applied.items())],
        "tables": entries,
    }
    sync_directory(directory / _TABLES_DIR)  # the files' names, before the manifest vouches for them
    write_bytes(directory / _MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    sync_directory(directory.parent)  # a backup reported done is still there after a power loss
    return BackupSummary(directory, rows)


def restore(store: Store, directory: Path) -> BackupSummary:
    """Load a backup written by `backup` into ``store``, which must hold no rows yet.

    The schema is created by this pairflow's migrations, which must be exactly
    the ones the backup was taken with; then every table receives its rows as
    they were, ``schema_migrations`` included.

    Raises
    ------
    ConfigError
        When the backup is missing, damaged, of another format or schema
        version, or the target store already holds data.
    StorageError
        When the store fails while loading.
    """
    manifest = check_manifest(directory)
    _check_files(manifest, directory)
    _check_empty(store)
    store.init_schema()
    present = set(_tables(store))
    missing = [entry["name"] for entry in manifest["tables"] if entry["name"] not in present]
    if missing:
        raise ConfigError(f"backup {directory} holds tables this schema lacks: {', '.join(missing)}")
    rows: dict[str, int] = {}
    for entry in manifest["tables"]:
        table = entry["name"]
        store.command(f"TRUNCATE TABLE `{table}`")
        store.import_native(table, directory / entry["file"])
        loaded = _raw_count(store, table)
        if loaded != entry["rows"]:
            raise StorageError(f"restore of {table} loaded {loaded} rows, the backup holds {entry['rows']}")
        rows[table] = loaded
    return BackupSummary(directory, rows)


def check_manifest(directory: Path) -> dict[str, Any]:
    """Return the manifest of the backup in ``directory`` once it is one this pairflow restores (format, schema).

    Cheap (the table files are checked by `restore`), so a command can refuse a
    wrong directory before it opens, and so creates, the target store.

    Raises
    ------
    ConfigError
        When the manifest is missing, damaged, of another format or schema version.
    """
    manifest = _read_manifest(directory)
    _check_schema_version(manifest, directory)
    return manifest


def _tables(store: Store) -> list[str]:
    """Return the data tables of the current database (views are derived, not saved)."""
    return [
        name
        for (name,) in store.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase()"
            " AND engine NOT IN ('View', 'MaterializedView') ORDER BY name"
        )
    ]


def _raw_count(store: Store, table: str) -> int:
    return int(store.query(f"SELECT count() FROM `{table}`")[0][0])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / _MANIFEST
    if not path.is_file() and (directory / _TABLES_DIR).is_dir():
        raise ConfigError(f"backup {directory} is incomplete: {_MANIFEST} is missing (the backup was interrupted"
                          " before it finished); take it again")
    if not path.is_file():
        raise ConfigError(f"{directory} is not a pairflow backup: {_MANIFEST} is missing")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"backup manifest {path} is corrupt: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ConfigError(f"backup manifest {path} is not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ConfigError(
            f"backup {directory} has format version {manifest.get('format_version')!r};"
            f" this pairflow reads version {FORMAT_VERSION}"
        )
    if not _well_formed(manifest):
        raise ConfigError(f"backup manifest {path} is corrupt: its migrations or tables are malformed")
    return manifest


def _well_formed(manifest: dict[str, Any]) -> bool:
    migrations, tables = manifest.get("migrations"), manifest.get("tables")
    if not isinstance(migrations, list) or not isinstance(tables, list):
        return False
    migrations_ok = all(
        isinstance(m, dict) and isinstance(m.get("version"), int) and isinstance(m.get("checksum"), str) for m in migrations
    )
    tables_ok = all(
        isinstance(t, dict)
        and isinstance(t.get("name"), str)
        and t["name"].replace("_", "").isalnum()
        and isinstance(t.get("rows"), int)
        and isinstance(t.get("sha256"), str)
        and t.get("file") == f"{_TABLES_DIR}/{t['name']}.native"
        for t in tables
    )
    return migrations_ok and tables_ok


def _check_schema_version(manifest: dict[str, Any], directory: Path) -> None:
    taken = [(m["version"], m["checksum"]) for m in manifest["migrations"]]
    here = [(m.version, m.checksum) for m in load_migrations()]
    if taken != here:
        raise ConfigError(
            f"backup {directory} was taken at schema {_describe(taken)}; this pairflow's schema is {_describe(here)}:"
            " restore it with the pairflow version that wrote it"
        )


def _describe(versions: list[tuple[int, str]]) -> str:
    if not versions:
        return "(none)"
    return f"{versions[-1][0]:04d} ({len(versions)} migrations, last checksum {versions[-1][1]})"


def _check_files(manifest: dict[str, Any], directory: Path) -> None:
    for entry in manifest["tables"]:
        path = directory / entry["file"]
        if not path.is_file():
            raise ConfigError(f"backup {directory} is incomplete: {entry['file']} is missing")
        if _sha256(path) != entry["sha256"]:
            raise ConfigError(f"backup {directory} is corrupt: {entry['file']} does not match its checksum")


def _check_empty(store: Store) -> None:
    holding = [
        name
        for name in _tables(store)
        if name != _MIGRATIONS_TABLE and _raw_count(store, name) > 0
    ]
    if holding:
        raise ConfigError(
            f"restore target {store.location} already holds data (in {', '.join(holding[:5])});"
            " restore into a new, empty store"
        )
