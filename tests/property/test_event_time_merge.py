"""The event-time merge of topic partitions: same output whatever the fetch timing, resumable, never stalled."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sources.event_time_merge import EventTimeMerge

KEYS = ("0-md.bars", "1-md.bars", "0-md.funding")

# Each partition's records: non-decreasing event times (a partition holds one coin's events in order).
logs = st.tuples(*[st.lists(st.integers(0, 50), max_size=25).map(sorted) for _ in KEYS])


@st.composite
def fetches(draw, partitions: tuple[list[int], ...]) -> list[tuple[int, int]]:
    """A random fetch schedule: (partition, how many records) chunks, each partition's log read to its end."""
    left = [len(log) for log in partitions]
    order: list[tuple[int, int]] = []
    while any(left):
        index = draw(st.sampled_from([i for i, n in enumerate(left) if n]))
        size = draw(st.integers(1, left[index]))
        order.append((index, size))
        left[index] -= size
    return order


def sorted_records(partitions: tuple[list[int], ...]) -> list[tuple[int, int, int]]:
    """Every record as (ts, partition, offset), in event-time order, ties in partition order."""
    return sorted((ts, index, offset) for index, log in enumerate(partitions) for offset, ts in enumerate(log))


def feed(merge: EventTimeMerge, partitions, schedule, start=(0, 0, 0), now=0.0) -> list[tuple[int, int, int]]:
    """Deliver ``schedule`` from offsets ``start``, releasing after every fetch; end-of-log once a log is read."""
    out: list = []
    position = list(start)
    for index, size in schedule:
        for offset in range(position[index], position[index] + size):
            merge.add(KEYS[index], offset, partitions[index][offset], (partitions[index][offset], index, offset))
        position[index] += size
        if position[index] == len(partitions[index]):
            merge.at_end(KEYS[index])
        out += merge.release(now)
    for index, log in enumerate(partitions):
        if not log[position[index]:]:
            merge.at_end(KEYS[index])
    return out + merge.release(now)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), partitions=logs)
def test_a_backlog_comes_out_in_event_time_order_whatever_the_fetch_order(data, partitions) -> None:
    merge = EventTimeMerge(KEYS)
    out = feed(merge, partitions, data.draw(fetches(partitions)))
    assert out == sorted_records(partitions)
    assert merge.drained


@settings(max_examples=150, deadline=None)
@given(data=st.data(), partitions=logs)
def test_resuming_from_the_snapshot_offsets_gives_the_rest_of_the_uninterrupted_output(data, partitions) -> None:
    merge = EventTimeMerge(KEYS)
    schedule = data.draw(fetches(partitions))
    cut = data.draw(st.integers(0, len(schedule)))
    before = feed(merge, partitions, schedule[:cut])
    # what the crashed reader had taken in but not emitted is read again from the snapshot: nothing twice
    offsets = merge.resume_offsets()
    start = tuple(offsets[key] or 0 for key in KEYS)
    emitted = [record for record in before if record[2] < start[record[1]]]
    assert emitted == before
    rest = [log[start[i]:] for i, log in enumerate(partitions)]
    again = feed(EventTimeMerge(KEYS), partitions, data.draw(fetches(tuple(rest))), start=start)
    assert before + again == sorted_records(partitions)


def test_a_partition_not_fetched_yet_holds_the_others_until_the_patience_runs_out() -> None:
    merge = EventTimeMerge(KEYS[:2], patience_s=5.0)
    merge.add(KEYS[0], 0, 1_000, "a")
    assert merge.release(now=100.0) == [] and merge.ignored == frozenset()
    assert merge.release(now=104.9) == []
    assert merge.release(now=105.0) == ["a"] and merge.ignored == {KEYS[1]}
    merge.at_end(KEYS[0])
    merge.add(KEYS[1], 0, 500, "late")
    assert merge.release(now=106.0) == ["late"] and merge.ignored == frozenset()
    merge.add(KEYS[0], 1, 2_000, "b")  # the other one answered once: it holds the others again
    assert merge.release(now=107.0) == []


def test_a_partition_at_its_end_holds_no_one_and_a_full_one_asks_to_be_paused() -> None:
    merge = EventTimeMerge(KEYS[:2], cap=2)
    merge.at_end(KEYS[1])
    merge.add(KEYS[0], 0, 10, "a")
    assert merge.release(now=0.0) == ["a"]
    merge.at_end(KEYS[0])
    merge.add(KEYS[1], 0, 5, "x")
    merge.add(KEYS[1], 1, 6, "y")
    assert merge.paused() == {KEYS[1]}
    merge.add(KEYS[1], 1, 6, "y")  # fetched again after a pause: ignored
    assert merge.release(now=0.0) == ["x", "y"] and merge.paused() == set()


def test_records_without_event_time_go_out_first_for_the_decoder_to_refuse() -> None:
    merge = EventTimeMerge(KEYS[:1])
    merge.add(KEYS[0], 0, 7, "good")
    merge.add(KEYS[0], 1, None, "garbage")
    merge.at_end(KEYS[0])
    assert merge.release(now=0.0) == ["good", "garbage"]
