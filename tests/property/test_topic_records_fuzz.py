"""Fuzz: any record on any topic a stage reads becomes a valid event or exactly one dead letter.

Every stage that reads a topic (ingest: md.*, strategy: md.bars, the alert relay: pf.alerts) decodes
through `flows.decode.decode_batch`. Whatever bytes arrive -- garbage, JSON of the wrong shape, or a
real event with one field replaced by any JSON value -- the decoder returns either an event of the
topic's type that passes validation, or one `DeadLetter` with a one-line reason; it never raises, so
the flow keeps running and nothing from the bad record reaches a store.
"""

from __future__ import annotations

import json

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.decode import DEAD_LETTER_KEY, DeadLetter, decode_batch, problem_with
from pairflow import events
from pairflow.clock import ManualClock
from tests.support.event_examples import example

TOPICS = sorted(events.EVENT_OF_TOPIC)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def records(draw: st.DrawFn) -> tuple[str, bytes]:
    """A topic and a payload: raw bytes, any JSON, or an example event of the topic with one field spoilt."""
    topic = draw(st.sampled_from(TOPICS))
    kind = draw(st.sampled_from(("bytes", "json", "spoilt")))
    if kind == "bytes":
        return topic, draw(st.binary(max_size=200))
    if kind == "json":
        return topic, json.dumps(draw(json_values)).encode()
    fields = msgspec.to_builtins(example(events.EVENT_OF_TOPIC[topic], filled=draw(st.booleans())))
    name = draw(st.sampled_from(sorted(fields)))
    if draw(st.booleans()):
        fields[name] = draw(json_values)
    else:
        del fields[name]
    return topic, json.dumps(fields).encode()


@settings(max_examples=400, deadline=None)
@given(records())
def test_any_record_on_any_topic_is_a_valid_event_or_one_dead_letter(record: tuple[str, bytes]) -> None:
    topic, payload = record
    [(key, [item])] = decode_batch([(topic, payload, 3, 41)], clock=ManualClock(1_000))
    if key == DEAD_LETTER_KEY:
        assert isinstance(item, DeadLetter)
        assert (item.topic, item.partition, item.offset, item.recv_ts) == (topic, 3, 41, 1_000)
        assert item.error and "\n" not in item.error
        assert item.raw == payload.decode("utf-8", errors="replace")
    else:
        assert type(item) is events.EVENT_OF_TOPIC[topic]
        assert problem_with(item) is None and 0 < item.ts < 4_102_444_800_000
        assert key == (getattr(item, "coin", None) or events.key_of(item))
