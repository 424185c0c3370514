"""Append-only files are created durably: the first open syncs the directory, so a power loss right after
cannot take the new file (and what was appended and fsynced to it) away; a reopen appends without syncing again."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.netting import SpreadTarget
from pairflow.events import Alert, OrderIntent
from sinks.alerts import AlertmanagerSink
from sinks.dead_letter import DeadLetterSink, read_dead_letters
from sinks.order_journal import OrderJournal
from sinks.spread_journal import SpreadJournal
from tests.helpers import free_port
from tests.support.durability import directories_synced, files_synced

CLOID = "0x" + "ab" * 16


def test_a_new_order_journal_syncs_its_new_directory_and_itself_once_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "execution" / "cloids"
    with directories_synced() as synced, files_synced() as files:
        journal = OrderJournal(path, fsync=True)
        journal.record(CLOID, 1_700_000_010_000)
        journal.close()
    assert synced == [tmp_path, path.parent]  # the new directory's name, then the new journal's
    assert files == [path]  # the cloid, before its order is sent
    with directories_synced() as synced:
        again = OrderJournal(path, fsync=True)
        again.close()
    assert synced == []
    assert again.sent == {CLOID} and again.expires == {CLOID: 1_700_000_010_000}


@pytest.mark.parametrize("fsync", [True, False])
def test_a_new_spread_journal_is_created_durably_and_syncs_each_change_exactly_with_fsync(tmp_path: Path,
                                                                                          fsync: bool) -> None:
    path = tmp_path / "execution" / "spreads"
    leg = OrderIntent(ts=1, id=CLOID, coin="ETH", pair="ETH/SOL", signal_id="s1", is_buy=True, sz=0.5, limit_px=2e3)
    with directories_synced() as synced, files_synced() as files:
        journal = SpreadJournal(path, fsync=fsync)
        journal.record("ETH/SOL", 1.0, [leg], SpreadTarget("ETH/SOL", "s1", 1, ("ETH",), (0.5,)))
        journal.record("ETH/SOL", 0.0, [], SpreadTarget("ETH/SOL", "s2", 2, ("ETH",), (0.0,)))
        journal.close()
    assert synced == [tmp_path, path.parent]  # created durably whatever fsync says: it costs one sync
    assert files == ([path, path] if fsync else [])
    with directories_synced() as synced:
        again = SpreadJournal(path, fsync=fsync)
    assert synced == [] and again.spreads({CLOID}) == ([leg], {"ETH/SOL": 1.0})
    again.close()


@settings(max_examples=25, deadline=None)
@given(batches=st.lists(st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3), max_size=3),
                        min_size=1, max_size=3))
def test_dead_letters_open_a_new_file_durably_and_read_back_in_order(tmp_path_factory, batches) -> None:
    directory = tmp_path_factory.mktemp("letters")
    written = []
    for batch in batches:  # each batch as if by a restarted worker: the file is reopened
        with directories_synced() as synced:
            partition = DeadLetterSink(directory).build("dead", 0, 1)
        assert synced == ([] if written else [directory])
        partition.write_batch([("key", batch)])
        partition.close()
        written.extend(batch)
    assert read_dead_letters(directory) == written


def test_the_alert_outbox_and_the_rejected_file_are_created_durably(tmp_path: Path) -> None:
    sink = AlertmanagerSink(f"http://127.0.0.1:{free_port()}", tmp_path / "outbox", retry_backoff_s=60)
    with directories_synced() as synced:
        sink.send(Alert(ts=1_700_000_000_000, id="kept", severity="critical", source="risk", message="m"))
        sink.send(Alert(ts=-62_135_596_800_001, id="bad", severity="critical", source="risk", message="m"))
        sink.send(Alert(ts=1_700_000_000_001, id="next", severity="critical", source="risk", message="m"))
    sink.close(timeout_s=0)
    assert synced == [tmp_path / "outbox"] * 2  # outbox.jsonl, then rejected.jsonl: not again for "next"
    assert [alert.id for alert in AlertmanagerSink(None, tmp_path / "outbox")._read_outbox()] == ["kept", "next"]
