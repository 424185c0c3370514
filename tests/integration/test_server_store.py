"""The ClickHouse server path of the Store, as far as it runs without a server.

No ClickHouse server can be installed here, so nothing below reaches one: a server DSN is parsed, its
address described without credentials, the connection attempted lazily and refused by a closed local
port. What happens with a server that is down is the part we can run for real: the store sink keeps the
flow running by spilling every batch to disk, and the spill files replay into a store that is up (chDB
here) exactly once. A server's own answers (its HTTP responses, Replicated/Distributed tables, ON CLUSTER)
are not exercised; the cluster DDL is only parsed by chDB (tests/integration/test_cluster_ddl.py).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main
from hypothesis import given, settings as hypothesis_settings, strategies as st
import bytewax.operators as op

from pairflow.config import StorageSettings
from pairflow.errors import StorageError
from pairflow.events import Trade
from pairflow.storage import BatchWriter, connect
from sinks.clickhouse import ClickHouseSink
from tests.helpers import free_port
from tests.integration.ingest_support import chdb_settings

CLOSED_PORT = free_port()
SECRET = "pw-S3CRET"
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)


@hypothesis_settings(max_examples=25, deadline=None)
@given(user=names, database=names, in_dsn=st.booleans(), scheme=st.sampled_from(["http", "https"]))
def test_a_server_store_opens_lazily_and_never_shows_its_password(user: str, database: str, in_dsn: bool,
                                                                   scheme: str) -> None:
    userinfo = f"{user}:{SECRET}@" if in_dsn else f"{user}@"
    dsn = f"{scheme}://{userinfo}127.0.0.1:{CLOSED_PORT}/{database}"
    store = connect(StorageSettings(dsn=dsn, password=None if in_dsn else SECRET))  # no connection yet
    try:
        assert not store.embedded
        assert store.location == f"ClickHouse at {scheme}://127.0.0.1:{CLOSED_PORT}/{database}"
        assert store.ping() is False
        with pytest.raises(StorageError) as caught:
            store.count("trades")
        message = str(caught.value)
        assert message.startswith(f"cannot reach {store.location}: ") and "\n" not in message
        assert SECRET not in message
    finally:
        store.close()


def trades(count: int) -> list[Trade]:
    return [Trade(ts=1_700_000_000_000 + i, recv_ts=1_700_000_000_000 + i, id=f"t{i}", coin=("ETH", "SOL")[i % 2],
                  px=100.0 + i, sz=0.5, side="B") for i in range(count)]


def test_a_server_that_is_down_from_the_start_spills_and_the_spill_replays_exactly_once(tmp_path: Path) -> None:
    sent = trades(300)
    down = StorageSettings(dsn=f"http://127.0.0.1:{CLOSED_PORT}/pairflow", spill_dir=tmp_path / "spill",
                           retry_attempts=0, batch_max_rows=100)
    flow = Dataflow("server_down")
    stream = op.input("in", flow, TestingSource([(trade.coin, [trade]) for trade in sent], batch_size=50))
    # The sink opens no table before its first batch: a server down from the start must not stop the flow.
    op.output("store", stream, ClickHouseSink(down))
    run_main(flow, epoch_interval=timedelta(milliseconds=10))
    assert list((tmp_path / "spill" / "trades").glob("*.spill"))

    up = chdb_settings(tmp_path)
    with connect(up) as store:
        store.init_schema()
        BatchWriter(store, "trades", settings=up, background=False).close()  # a writer replays what is pending
        assert not list((tmp_path / "spill").rglob("*.spill"))
        # Without FINAL: a row replayed twice stays two rows until a merge, which FINAL would hide.
        assert store.query("SELECT count(), uniqExact(id), sum(px) FROM trades")[0] == (
            len(sent), len(sent), sum(trade.px for trade in sent))
