"""A record stamped where the decoder refuses it goes out of the event-time merge at once, moving nothing else.

Before, a ts far in the future (garbage, or microseconds) sorted after every
real record: it held its partition back behind it (window 1), or pinned its
partition's resume offset, until the merge had nothing else to release.
"""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from pairflow.events import LAST_TS_MS
from sources.event_time_merge import EventTimeMerge
from sources.time_ordered_source import _event_time
from tests.property.test_event_time_merge import fetches

KEYS = ("0-md.bars", "1-md.bars")
T0 = 1_750_000_000_000

bad_stamps = st.one_of(st.integers(LAST_TS_MS, 2**62), st.integers(-(2**62), 0))
# Per partition: event times in order (offsets from T0), and (position, bad stamp) records put among them.
partition_logs = st.tuples(*[
    st.tuples(st.lists(st.integers(0, 50), max_size=20).map(sorted),
              st.lists(st.tuples(st.integers(0, 20), bad_stamps), max_size=3))
    for _ in KEYS
])


def build(logs) -> tuple[list[list[tuple[bytes, str]]], list[list[tuple[bytes, str]]]]:
    """Return each partition's records as (payload, label), with and without the badly stamped ones."""
    full, good = [], []
    for index, (times, bad) in enumerate(logs):
        records = [(msgspec.json.encode({"ts": T0 + ts}), f"{index}:{n}") for n, ts in enumerate(times)]
        good.append(list(records))
        for number, (position, stamp) in enumerate(sorted(bad, key=lambda pair: pair[0], reverse=True)):
            records.insert(min(position, len(records)), (msgspec.json.encode({"ts": stamp}), f"{index}:bad{number}"))
        full.append(records)
    return full, good


def run(partitions: list[list[tuple[bytes, str]]], schedule, window: int) -> list[str]:
    """Feed the records as the reader does (event time from the payload), in ``schedule``'s fetches; the labels out."""
    merge = EventTimeMerge(KEYS, window=window)
    position = [0, 0]
    out: list[str] = []
    for index, size in schedule:
        for offset in range(position[index], position[index] + size):
            payload, label = partitions[index][offset]
            merge.add(KEYS[index], offset, _event_time(payload), label)
        position[index] += size
        if position[index] == len(partitions[index]):
            merge.at_end(KEYS[index])
        out += merge.release(0.0)
    for index in range(len(KEYS)):
        if position[index] == len(partitions[index]):
            merge.at_end(KEYS[index])
    out += merge.release(0.0)
    assert merge.drained
    return out


@settings(max_examples=200, deadline=None)
@given(data=st.data(), logs=partition_logs, window=st.sampled_from((1, 3)))
def test_a_badly_stamped_record_goes_out_before_its_partition_moves_on_and_changes_no_order(data, logs, window):
    full, good = build(logs)
    out = run(full, data.draw(fetches(tuple(full)), label="fetches"), window)
    # The real records come out exactly as they would without the badly stamped ones, whatever the fetches.
    assert [label for label in out if "bad" not in label] == run(good, data.draw(fetches(tuple(good))), window)
    # Each badly stamped record goes out before every record after it in its partition.
    for records in full:
        labels = [label for _, label in records]
        for offset, label in enumerate(labels):
            if "bad" in label:
                assert not set(labels[offset + 1:]) & set(out[:out.index(label)]), (label, out)
