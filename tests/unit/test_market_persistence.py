"""Atomic venue snapshots: round trip, atomic replace, corrupt files kept aside."""

from __future__ import annotations

import hashlib
import pickle

import pytest

from venue.persistence import SnapshotError, SnapshotStore, VenueState


def test_snapshot_round_trips_the_state(tmp_path):
    store = SnapshotStore(tmp_path / "venue")
    assert store.load() is None
    state = VenueState(engine={"accounts": {"0xabc": 1000}}, nonces={"kept": [1, 2]}, driver=[1, 2, 3], saved_at_ms=5)
    path = store.save(state)
    assert path == tmp_path / "venue" / "venue.snapshot"
    assert store.load() == state
    assert [p.name for p in (tmp_path / "venue").iterdir()] == ["venue.snapshot"]


def test_a_new_save_replaces_the_old_one(tmp_path):
    store = SnapshotStore(tmp_path)
    store.save(VenueState(engine=1))
    store.save(VenueState(engine=2))
    assert store.load().engine == 2


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda blob: blob[:20], "truncated"),
        (lambda blob: b"NOTVENUE" + blob[8:], "header"),
        (lambda blob: blob[:-3] + b"xyz", "checksum"),
    ],
)
def test_corrupt_snapshot_is_moved_aside_and_reported_in_one_line(tmp_path, damage, reason):
    store = SnapshotStore(tmp_path)
    store.save(VenueState(engine={"x": 1}))
    damaged = damage(store.path.read_bytes())
    store.path.write_bytes(damaged)
    with pytest.raises(SnapshotError) as caught:
        store.load()
    message = str(caught.value)
    assert "\n" not in message and reason in message and str(store.path) in message
    assert not store.path.exists()
    (aside,) = tmp_path.glob("venue.snapshot.corrupt-*")
    assert aside.read_bytes() == damaged
    assert store.load() is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(b"garbage", "does not unpickle"), (pickle.dumps({"not": "a state"}), "holds a dict")],
)
def test_checksummed_payload_that_is_not_a_venue_state_is_reported(tmp_path, payload, reason):
    store = SnapshotStore(tmp_path)
    store.write(b"PFVENUE1" + hashlib.sha256(payload).digest() + payload)
    with pytest.raises(SnapshotError, match=reason):
        store.load()


def test_second_corrupt_file_does_not_overwrite_the_first(tmp_path):
    store = SnapshotStore(tmp_path)
    for content in (b"first bad", b"second bad"):
        store.path.write_bytes(content)
        with pytest.raises(SnapshotError):
            store.load()
    kept = sorted(p.read_bytes() for p in tmp_path.glob("venue.snapshot.corrupt-*"))
    assert kept == [b"first bad", b"second bad"]
