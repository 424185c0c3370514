"""Every event type round-trips through its ClickHouse table; every ReplacingMergeTree table has a `_v` view."""

from __future__ import annotations

from collections.abc import Iterator
import msgspec
import pytest

from pairflow import events
from pairflow.config import StorageSettings
from pairflow.storage import TABLE_OF_EVENT, BatchWriter, Store, connect, table_for
from pairflow.storage.views import sync_views, view_of
from tests.support.event_examples import TS, example, read_back

NOT_STORED = {events.L2Book}  # sampled into BookSnapshot rows by the ingest flow
EVENT_TYPES = sorted(
    (cls for cls in events.Event.__subclasses__() if cls not in NOT_STORED), key=lambda cls: cls.__name__
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    directory = tmp_path_factory.mktemp("event-tables")
    opened = connect(StorageSettings(dsn=f"chdb://{directory}/db", spill_dir=directory / "spill"))
    opened.init_schema()
    yield opened
    opened.close()


def test_every_event_type_is_stored_except_raw_books() -> None:
    assert set(EVENT_TYPES) == set(TABLE_OF_EVENT) | {events.Bar}


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda cls: cls.__name__)
def test_event_round_trips_through_its_table(store: Store, cls: type[events.Event]) -> None:
    written = [example(cls, filled=True), example(cls, filled=False)]
    for event in written:
        writer = BatchWriter(store, table_for(event), background=False)
        writer.add_many([event])
        assert writer.flush() == 1
        writer.close()
    assert [read_back(store, cls, event) for event in written] == written


def test_every_replacing_table_has_a_deduplicated_view_with_its_columns(store: Store) -> None:
    replacing = [
        name
        for (name,) in store.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase()"
            " AND engine LIKE '%ReplacingMergeTree' AND name != 'schema_migrations'"
        )
    ]
    assert set(TABLE_OF_EVENT.values()) - {"logs"} <= set(replacing)

    def columns(table: str) -> list[tuple[str, str]]:
        return store.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String}"
            " ORDER BY position",
            {"t": table},
        )

    for table in replacing:
        assert columns(view_of(table)) == columns(table), table
    assert sync_views(store) == []


def test_views_collapse_duplicates_and_follow_new_columns(store: Store) -> None:
    first = events.Alert(ts=TS, recv_ts=1, id="alert:dup", severity="info", source="test", message="first")
    second = events.Alert(ts=TS, recv_ts=2, id="alert:dup", severity="critical", source="test", message="second")
    for alert in (first, second):
        writer = BatchWriter(store, "alerts", background=False)
        writer.add(alert)
        writer.flush()
        writer.close()
    assert store.query("SELECT count() FROM alerts WHERE id = 'alert:dup'") == [(2,)]
    assert store.query("SELECT message, time FROM alerts_v WHERE id = 'alert:dup'")[0][0] == "second"

    store.command("CREATE TABLE scratch (ts Int64, id String, note String) ENGINE = ReplacingMergeTree ORDER BY id")
    store.command("ALTER TABLE scratch ADD COLUMN extra UInt8 DEFAULT 7")
    assert sync_views(store) == ["scratch_v"]
    store.command("INSERT INTO scratch (ts, id, note) VALUES (1, 'a', 'x')")
    assert store.query("SELECT id, extra FROM scratch_v") == [("a", 7)]


def test_bar_versions_do_not_depend_on_insert_order(store: Store) -> None:
    complete = example(events.Bar, filled=True)
    partial = msgspec.structs.replace(complete, trades=complete.trades - 1, volume=complete.volume / 2)
    writer = BatchWriter(store, "bars_1s", background=False)
    for bar in (complete, partial):  # a replay re-inserts the older version last
        writer.add(bar)
        writer.flush()
    writer.close()
    assert read_back(store, events.Bar, complete) == complete
