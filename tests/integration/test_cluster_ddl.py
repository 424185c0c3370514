"""`pairflow db init --cluster NAME`: the migrations' cluster form, checked as text and by ClickHouse's own parser (chDB).

No cluster can be started here, so the statements are not executed; chDB's
``EXPLAIN AST`` parses each one exactly as a server would.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairflow.errors import ConfigError
from pairflow.storage import Store
from pairflow.storage.cluster import ZOO_PATH, cluster_statements, local_table
from pairflow.storage.migrations import load_migrations, migration_ddl
from pairflow.storage.views import deduplicates

CREATE = re.compile(r"^CREATE (?:TABLE IF NOT EXISTS|OR REPLACE TABLE) (\w+) ON CLUSTER `prod` (.*)$")


def shipped_tables(store: Store) -> dict[str, str]:
    rows = store.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND engine != 'View'")
    return dict(rows)


def test_every_shipped_table_gets_a_replicated_local_table_and_a_distributed_one(store: Store) -> None:
    ddl = migration_ddl("prod")
    created = {}
    for statement in ddl:
        assert " ON CLUSTER `prod` " in statement, statement
        if found := CREATE.match(statement):
            created.setdefault(found.group(1), []).append(found.group(2))
    for table, engine in shipped_tables(store).items():
        local = created[local_table(table)]
        assert all(f"ENGINE = Replicated{engine}('{ZOO_PATH}', '{{replica}}'" in body for body in local), (table, local)
        assert "{shard}" in ZOO_PATH
        distributed = created[table]
        assert all(
            body.startswith(f"AS {local_table(table)} ENGINE = Distributed(`prod`, currentDatabase(), {local_table(table)}, cityHash64(")
            for body in distributed
        ), (table, distributed)
    single_server = sum(len(migration.statements()) for migration in load_migrations()) + 1
    assert len(ddl) == 2 * single_server  # one local and one distributed statement per statement


def test_every_cluster_statement_parses_as_clickhouse_sql(store: Store) -> None:
    for statement in migration_ddl("prod"):
        tree = [line for (line,) in store.query(f"EXPLAIN AST {statement}")]
        kind = "CreateQuery" if statement.startswith("CREATE") else "AlterQuery"
        name = statement.split(" ON CLUSTER")[0].split()[-1]
        assert tree[0].split()[:2] == [kind, name], (statement, tree[:2])


def test_a_table_rebuilt_from_itself_reads_its_own_local_rows() -> None:
    rebuilt = cluster_statements(
        ["CREATE OR REPLACE TABLE bars ENGINE = ReplacingMergeTree(trades) ORDER BY (coin, ts) AS SELECT * FROM bars"], "c"
    )
    assert rebuilt[0].endswith("AS SELECT * FROM bars_local")
    assert rebuilt[1].startswith("CREATE OR REPLACE TABLE bars ON CLUSTER `c` AS bars_local ENGINE = Distributed(")


def test_an_unknown_statement_kind_is_refused() -> None:
    with pytest.raises(Exception, match="no cluster form for the statement 'INSERT INTO t VALUES'"):
        cluster_statements(["INSERT INTO t VALUES (1)"], "c")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20))
def test_any_cluster_name_is_either_quoted_safely_or_refused_in_one_line(name: str) -> None:
    try:
        statements = cluster_statements(["ALTER TABLE t ADD COLUMN x Int64"], name)
    except ConfigError as error:
        assert "\n" not in str(error)
        return
    assert "`" not in name and all(f"ON CLUSTER `{name}` ADD COLUMN x Int64" in s for s in statements)


def test_distributed_tables_over_a_replacing_table_read_with_final() -> None:
    engines = {"trades": "Distributed", "trades_local": "ReplicatedReplacingMergeTree", "logs": "Distributed",
               "logs_local": "ReplicatedMergeTree"}
    assert [name for name in sorted(engines) if deduplicates(name, engines)] == ["trades"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=120)


def test_cli_prints_the_cluster_ddl_and_refuses_a_cluster_on_chdb(tmp_path: Path) -> None:
    printed = run_cli("db", "init", "--cluster", "prod", "--print-sql")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.split(";\n")[:-1] == migration_ddl("prod")
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\ndsn = "chdb://{tmp_path / "db"}"\n')
    refused = run_cli("db", "init", "--cluster", "prod", "--config", str(config))
    assert refused.returncode == 2 and "--cluster needs a ClickHouse server" in refused.stderr
    bad = run_cli("db", "init", "--cluster", "x;DROP", "--print-sql")
    assert bad.returncode == 2 and "is not a plain name" in bad.stderr and "Traceback" not in bad.stderr
    empty = run_cli("db", "init", "--cluster", "", "--print-sql")  # printed the one-server DDL before
    assert empty.returncode == 2 and "cluster name '' is not a plain name" in empty.stderr and not empty.stdout
