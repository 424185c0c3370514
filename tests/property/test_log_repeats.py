"""A repeating librdkafka line goes out once per window per kind, and the repeats it held are counted, never lost."""

from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st

from pairflow.log_repeats import RepeatFilter

KINDS = (
    "FAIL [rdkafka#consumer-1] [thrd:127.0.0.1:9/bootstrap]: Connect to ipv4#127.0.0.1:9 failed: Connection refused"
    " (after {ms}ms in state CONNECT)",
    "FAIL [rdkafka#producer-2] [thrd:b:9092/1]: b:9092/1: Disconnected ({ms} identical error(s) suppressed)",
    "ERROR [rdkafka#producer-2] [thrd:app]: 1/1 brokers are down",
)

# (kind, ms in the line, seconds since the previous line)
lines = st.lists(st.tuples(st.integers(0, len(KINDS) - 1), st.integers(0, 5_000), st.floats(0, 40)), max_size=80)


@given(lines=lines, window_s=st.sampled_from((1.0, 60.0)))
def test_each_kind_goes_out_first_then_once_per_window_with_its_repeats_counted(lines, window_s) -> None:
    repeats = RepeatFilter(window_s=window_s)
    at = 0.0
    passed: dict[int, list[tuple[float, int]]] = {}
    total: dict[int, int] = {}
    held_since_last: dict[int, int] = {}
    for kind, ms, gap in lines:
        at += gap
        record = logging.LogRecord("librdkafka", logging.ERROR, "", 0, KINDS[kind].format(ms=ms), None, None)
        record.created = at
        total[kind] = total.get(kind, 0) + 1
        if repeats.filter(record):
            assert getattr(record, "repeated", 0) == held_since_last.get(kind, 0)
            passed.setdefault(kind, []).append((at, getattr(record, "repeated", 0)))
            held_since_last[kind] = 0
        else:
            assert kind in passed, "the first line of a kind must go out"
            held_since_last[kind] += 1
    for kind, outs in passed.items():
        times = [time for time, _ in outs]
        assert all(later - earlier >= window_s for earlier, later in zip(times, times[1:]))
        # Every line is accounted for: passed, counted on a later passed line, or held since the last one.
        assert total[kind] == len(outs) + sum(count for _, count in outs) + held_since_last[kind]
