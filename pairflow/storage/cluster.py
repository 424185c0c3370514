"""The migrations' DDL rewritten for a ClickHouse cluster: replicated local tables under Distributed ones.

Every table ``t`` of a migration becomes ``t_local`` (its engine made
Replicated, one replica per ``{shard}``/``{replica}`` macro pair, created
``ON CLUSTER``) plus ``t`` itself as a Distributed table over ``t_local``.
Code keeps reading and writing ``t``, so the store API, the writers and the
``_v`` views are the same on one server and on a cluster. Rows are sharded by
a hash of the table's ORDER BY key: a ReplacingMergeTree only collapses
duplicates within one shard, and equal keys land on the same shard, so
``FINAL`` still removes every replay.

The zoo path uses ``{uuid}``, so a table re-created by ``CREATE OR REPLACE``
(migration 0005) gets a fresh replication path instead of colliding with the
old one. Statements other than CREATE TABLE and ALTER TABLE are refused, so a
new kind of migration statement cannot slip through un-clustered.

>>> for line in cluster_statements(["CREATE TABLE IF NOT EXISTS t (a Int64) ENGINE = ReplacingMergeTree(a) ORDER BY (a)"], "prod"):
...     print(line)
CREATE TABLE IF NOT EXISTS t_local ON CLUSTER `prod` (a Int64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}', a) ORDER BY (a)
CREATE TABLE IF NOT EXISTS t ON CLUSTER `prod` AS t_local ENGINE = Distributed(`prod`, currentDatabase(), t_local, cityHash64(a))
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pairflow.errors import ConfigError, StorageError, one_line

__all__ = ["LOCAL_SUFFIX", "ZOO_PATH", "check_cluster_name", "cluster_statements", "local_table"]

LOCAL_SUFFIX = "_local"
ZOO_PATH = "/clickhouse/tables/{uuid}/{shard}"
_CLUSTER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_CREATE = re.compile(r"^CREATE\s+(?P<how>TABLE\s+IF\s+NOT\s+EXISTS|OR\s+REPLACE\s+TABLE|TABLE)\s+(?P<name>\w+)(?P<rest>.*)$", re.S | re.I)
_ALTER = re.compile(r"^ALTER\s+TABLE\s+(?P<name>\w+)(?P<rest>\s.*)$", re.S | re.I)
_ENGINE = re.compile(r"ENGINE\s*=\s*(?P<engine>\w*MergeTree)(?:\((?P<args>[^()]*)\))?", re.I)
_ORDER_BY = re.compile(r"ORDER\s+BY\s+(?:\((?P<tuple>[^()]*)\)|(?P<single>\w+))", re.I)
_SELECT_FROM = re.compile(r"(\bFROM\s+)(\w+)", re.I)


def local_table(table: str) -> str:
    """Return the name of the replicated table under the Distributed ``table``."""
    return f"{table}{LOCAL_SUFFIX}"


def check_cluster_name(cluster: str) -> str:
    """Return ``cluster`` when it is a plain ClickHouse cluster name, else raise a one-line `ConfigError`."""
    if not _CLUSTER_NAME.match(cluster):
        raise ConfigError(f"cluster name {cluster!r} is not a plain name (letters, digits, '_' and '-')")
    return cluster


def cluster_statements(statements: Iterable[str], cluster: str) -> list[str]:
    """Rewrite single-server migration statements into their cluster form, in order.

    Raises
    ------
    StorageError
        For a statement this rewrite does not know (naming its first words).
    """
    on = f"ON CLUSTER `{check_cluster_name(cluster)}`"
    rewritten: list[str] = []
    for statement in statements:
        text = one_line(statement)
        if create := _CREATE.match(text):
            rewritten.extend(_create(create, cluster, on))
        elif alter := _ALTER.match(text):
            name, rest = alter.group("name"), alter.group("rest")
            rewritten.append(f"ALTER TABLE {local_table(name)} {on}{rest}")
            rewritten.append(f"ALTER TABLE {name} {on}{rest}")
        else:
            raise StorageError(f"no cluster form for the statement {' '.join(text.split()[:4])!r} ...")
    return rewritten


def _create(match: re.Match[str], cluster: str, on: str) -> list[str]:
    how = one_line(match.group("how").upper())
    name, rest = match.group("name"), match.group("rest")
    engine = _ENGINE.search(rest)
    order = _ORDER_BY.search(rest)
    if engine is None or order is None:
        raise StorageError(f"CREATE TABLE {name} has no MergeTree engine and ORDER BY for a cluster form")
    args = (engine.group("args") or "").strip()
    replicated_args = ", ".join(filter(None, [f"'{ZOO_PATH}'", "'{replica}'", args]))
    replicated = f"ENGINE = Replicated{engine.group('engine')}({replicated_args})"
    local_rest = rest[: engine.start()] + replicated + rest[engine.end() :]
    local_rest = _SELECT_FROM.sub(lambda found: found.group(1) + local_table(found.group(2)), local_rest)
    key = order.group("tuple") or order.group("single")
    distributed_how = "OR REPLACE TABLE" if how == "OR REPLACE TABLE" else "TABLE IF NOT EXISTS"
    return [
        f"CREATE {how} {local_table(name)} {on}{local_rest}",
        f"CREATE {distributed_how} {name} {on} AS {local_table(name)}"
        f" ENGINE = Distributed(`{cluster}`, currentDatabase(), {local_table(name)}, cityHash64({key}))",
    ]
