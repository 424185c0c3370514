"""One store API over embedded chDB and a ClickHouse server (same SQL for both).

chDB hosts a single engine per process, so `connect` hands out one shared client
per chDB directory and closes it when the last `Store` on it is closed.
A server client is created lazily and re-created after a connection failure,
so a store that goes away and comes back is picked up again.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, DataError

from pairflow.config import StorageSettings
from pairflow.errors import RejectedRowsError, StorageError, one_line
from pairflow.storage.native_stderr import native_stderr

__all__ = ["Store", "chdb_path_of", "connect"]

# clickhouse-connect logs a failed request ("Unexpected Http Driver Exception") before it raises;
# the error we raise already says it, so in a command that configured no logging Python's
# last-resort handler must not print it as a second line. With logging configured it still propagates.
logging.getLogger("clickhouse_connect").addHandler(logging.NullHandler())

_CHDB_LOCK = threading.Lock()
_CHDB_CLIENTS: dict[str, list[Any]] = {}  # path -> [client, open store count]


def chdb_path_of(dsn: str) -> Path:
    """Return the absolute chDB directory named by a ``chdb://`` DSN.

    ``chdb:///abs/dir`` is absolute; ``chdb://./dir``, ``chdb:///./dir`` and
    ``chdb://dir`` are relative to the working directory.
    """
    rest = dsn.removeprefix("chdb://").split("?", 1)[0]
    if rest.startswith(("/./", "/../")):
        rest = rest[1:]
    if not rest:
        raise StorageError(f"storage DSN {dsn!r} names no chDB directory")
    return Path(os.path.realpath(rest))


@dataclass(frozen=True)
class _Target:
    dsn: str = field(repr=False)
    password: str | None = field(repr=False)

    @property
    def embedded(self) -> bool:
        return self.dsn.startswith("chdb://")

    def describe(self) -> str:
        if self.embedded:
            return f"chDB at {chdb_path_of(self.dsn)}"
        parts = urlsplit(self.dsn)
        return f"ClickHouse at {parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}"


def connect(settings: StorageSettings) -> Store:
    """Open a store for ``settings.dsn`` (chDB directory or ClickHouse server URL).

    Raises
    ------
    StorageError
        When an embedded directory cannot be opened (e.g. another chDB directory
        is already open in this process). A server that is down is not an error
        here: the first operation reports it, and later operations reconnect.
    """
    password = settings.password.get_secret_value() if settings.password is not None else None
    store = Store(_Target(settings.dsn, password))
    if store.embedded:
        store._client()
    return store


class Store:
    """A handle on the event store; use `connect` to make one.

    Every failure surfaces as a one-line `StorageError`.
    """

    def __init__(self, target: _Target) -> None:
        self._target = target
        self._lock = threading.Lock()
        self._server_client: Client | None = None
        self._chdb_key: str | None = None
        self._closed = False
        self._replacing: dict[str, bool] = {}

    @property
    def embedded(self) -> bool:
        """Return True for an embedded chDB store."""
        return self._target.embedded

    @property
    def location(self) -> str:
        """Describe where the data lives, without credentials."""
        return self._target.describe()

    def command(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """Run a statement that returns no rows (DDL, ALTER, ...)."""
        return self._call(lambda client: client.command(sql, parameters=params), sql)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        """Run a query and return its rows as tuples; bind values with ``{name:Type}`` placeholders."""
        return self._call(lambda client: client.query(sql, parameters=params).result_rows, sql)

    def query_dicts(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a query and return its rows as dicts keyed by column name."""

        def run(client: Client) -> list[dict[str, Any]]:
            result = client.query(sql, parameters=params)
            return [dict(zip(result.column_names, row)) for row in result.result_rows]

        return self._call(run, sql)

    def select(
        self,
        table: str,
        columns: str = "*",
        where: str = "",
        params: dict[str, Any] | None = None,
        order_by: str = "",
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Read a table with duplicates collapsed: adds FINAL for ReplacingMergeTree tables.

        Use this (or `count`) instead of a bare SELECT on at-least-once tables
        so a replayed event is never seen twice.
        """
        sql = f"SELECT {columns} FROM {_identifier(table)}{self._final(table)}"
        if where:
            sql += f" WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self.query_dicts(sql, params)

    def count(self, table: str, where: str = "", params: dict[str, Any] | None = None) -> int:
        """Return the number of distinct rows of a table (duplicates collapsed)."""
        sql = f"SELECT count() FROM {_identifier(table)}{self._final(table)}"
        if where:
            sql += f" WHERE {where}"
        return int(self.query(sql, params)[0][0])

    def insert_columns(self, table: str, columns: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
        """Insert column-oriented data: ``columns[i]`` holds every value of ``column_names[i]``.

        Raises
        ------
        RejectedRowsError
            When a value does not fit its column type (nothing is inserted).
        StorageError
            When the store fails or cannot be reached.
        """

        def insert(client: Client) -> None:
            try:
                client.insert(table, columns, column_names=list(column_names), column_oriented=True)
            except (DataError, TypeError, ValueError, AttributeError, OverflowError, struct.error) as error:
                raise RejectedRowsError(f"rows for {table} were rejected: {_first_line(str(error))}") from error

        self._call(insert, f"INSERT INTO {table}")

    def export_native(self, table: str, path: Path) -> None:
        """Write every stored row of ``table`` (duplicates kept, no FINAL) to ``path`` in ClickHouse Native format.

        Native carries each column's exact type and bytes, so `import_native`
        brings the same rows back bit for bit; the result is streamed to disk
        rather than held in memory, and fsynced, so a backup's manifest written
        after it never vouches for bytes a power loss took.
        """

        def export(client: Client) -> None:
            with client.raw_stream(f"SELECT * FROM {_identifier(table)}", fmt="Native") as stream, path.open("wb") as out:
                for chunk in stream:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())

        self._call(export, f"export of {table}")

    def import_native(self, table: str, path: Path) -> None:
        """Insert the rows of a Native file written by `export_native` into ``table`` as they are.

        ``optimize_on_insert`` is off so a ReplacingMergeTree keeps the
        duplicates the file holds instead of collapsing them on the way in.
        """
        data = path.read_bytes()
        if not data:
            return
        self._call(
            lambda client: client.raw_insert(
                _identifier(table), insert_block=data, fmt="Native", settings={"optimize_on_insert": 0}
            ),
            f"import of {table}",
        )

    def table_columns(self, table: str) -> list[str]:
        """Return the insertable column names of a table, in table order (ALIAS columns excluded)."""
        rows = self.query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {table:String}"
            " AND default_kind NOT IN ('ALIAS', 'MATERIALIZED') ORDER BY position",
            {"table": table},
        )
        if not rows:
            raise StorageError(f"table {table!r} does not exist in {self.location}; run `pairflow db init`")
        return [row[0] for row in rows]

    def is_replacing(self, table: str) -> bool:
        """Return True when the table collapses duplicates (a ReplacingMergeTree, or a Distributed table over one)."""
        from pairflow.storage.views import deduplicates

        if table not in self._replacing:
            engines = dict(self.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()"))
            if table not in engines:
                raise StorageError(f"table {table!r} does not exist in {self.location}; run `pairflow db init`")
            self._replacing[table] = deduplicates(table, engines)
        return self._replacing[table]

    def init_schema(self, cluster: str | None = None) -> list[int]:
        """Apply pending migrations from infra/clickhouse/, bring the ``_v`` views up to date, return the versions applied now.

        With ``cluster``, the migrations run in their cluster form
        (`pairflow.storage.cluster`): replicated local tables under Distributed
        ones, every statement ``ON CLUSTER``.
        """
        from pairflow.storage.migrations import apply_migrations
        from pairflow.storage.views import sync_views

        applied = apply_migrations(self, cluster=cluster)
        sync_views(self, cluster)
        return applied

    def ping(self) -> bool:
        """Return True when the store answers a trivial query."""
        try:
            self.query("SELECT 1")
        except StorageError:
            return False
        return True

    def close(self) -> None:
        """Release the client; the shared chDB engine closes with its last store."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._server_client is not None:
                self._server_client.close()
                self._server_client = None
            if self._chdb_key is not None:
                _release_chdb(self._chdb_key)
                self._chdb_key = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _final(self, table: str) -> str:
        return " FINAL" if self.is_replacing(table) else ""

    def _call(self, action: Any, what: str) -> Any:
        client = self._client()
        try:
            return action(client)
        except ClickHouseError as error:
            if not self.embedded:
                self._drop_server_client(client)
            raise StorageError(f"{_first_line(what)} failed on {self.location}: {_first_line(str(error))}") from error
        except OSError as error:
            if not self.embedded:
                self._drop_server_client(client)
            raise StorageError(f"{_first_line(what)} failed on {self.location}: {error}") from error

    def _client(self) -> Client:
        with self._lock:
            if self._closed:
                raise StorageError(f"store for {self.location} is closed")
            if self.embedded:
                if self._chdb_key is None:
                    self._chdb_key = _acquire_chdb(chdb_path_of(self._target.dsn))
                return _CHDB_CLIENTS[self._chdb_key][0]
            if self._server_client is None:
                self._server_client = self._open_server()
            return self._server_client

    def _open_server(self) -> Client:
        kwargs: dict[str, Any] = {"dsn": self._target.dsn, "connect_timeout": 5, "send_receive_timeout": 60}
        if self._target.password is not None:
            kwargs["password"] = self._target.password
        try:
            return clickhouse_connect.get_client(**kwargs)
        except (ClickHouseError, OSError) as error:
            raise StorageError(f"cannot reach {self.location}: {_first_line(str(error))}") from error

    def _drop_server_client(self, client: Client) -> None:
        with self._lock:
            if self._server_client is client:
                self._server_client = None
        try:
            client.close()
        except (ClickHouseError, OSError):
            pass


def _acquire_chdb(path: Path) -> str:
    key = str(path)
    with _CHDB_LOCK:
        entry = _CHDB_CLIENTS.get(key)
        if entry is None:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StorageError(f"cannot create chDB directory {path}: {error.strerror}") from error
            others = [other for other in _CHDB_CLIENTS if other != key]
            if others:
                raise StorageError(
                    f"chDB can open one directory per process: {others[0]} is open, so {path} cannot be;"
                    " close the other store first"
                )
            # chDB writes why it cannot start (the directory locked by another process) to stderr, not into
            # the exception: it goes into the error line instead of before it.
            with native_stderr() as stderr:
                try:
                    client = clickhouse_connect.get_client(interface="chdb", path=key)
                except ClickHouseError as error:
                    said = [line for line in stderr.fold().splitlines() if "Exception" in line]
                    reason = said[0] if said else str(error)
                    raise StorageError(f"cannot open chDB at {path}: {_first_line(reason)}") from error
            entry = _CHDB_CLIENTS[key] = [client, 0]
        entry[1] += 1
        return key


def _release_chdb(key: str) -> None:
    with _CHDB_LOCK:
        entry = _CHDB_CLIENTS.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del _CHDB_CLIENTS[key]
            entry[0].close()


def _identifier(name: str) -> str:
    if not name.replace("_", "").replace(".", "").isalnum():
        raise StorageError(f"table name {name!r} is not a plain identifier")
    return name


def _first_line(text: str) -> str:
    line = one_line(text.strip().splitlines()[0]) if text.strip() else "unknown error"
    return line if len(line) <= 300 else line[:297] + "..."
