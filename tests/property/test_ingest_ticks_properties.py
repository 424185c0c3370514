"""Clock ticks in the ingest stage: how often they come, and that batch cuts never change the bars."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.ingest import IngestOptions, _CoinLogic
from flows.ticks import ClockTick, Ticker
from pairflow.clock import EventClock, ManualClock
from pairflow.events import Bar, Trade

T0 = 1_750_000_000_000

batches_of_keys = st.lists(
    st.tuples(st.integers(min_value=0, max_value=900), st.lists(st.sampled_from("ABC"), max_size=3, unique=True)),
    max_size=30,
)


@given(batches=batches_of_keys, every_ms=st.integers(min_value=1, max_value=1_000))
def test_ticks_reach_every_known_key_once_and_no_more_often_than_asked(batches, every_ms):
    clock = ManualClock(T0)
    ticker = Ticker(clock, every_ms)
    known: set[str] = set()
    last_tick = None
    for advance, keys in batches:
        clock.advance(advance)
        groups = [(key, [f"{key}-event"]) for key in keys]
        known |= set(keys)
        out = ticker(groups)
        for key, items in out:
            assert [item for item in items if type(item) is not ClockTick] in ([], [f"{key}-event"])
        ticks = [(key, items[-1]) for key, items in out if items and type(items[-1]) is ClockTick]
        due = last_tick is None or clock.now_ms() - last_tick >= every_ms
        if due:
            last_tick = clock.now_ms()
            assert sorted(key for key, _ in ticks) == sorted(known)
            assert all(tick.ms == clock.now_ms() for _, tick in ticks)
        else:
            assert ticks == []


# One coin's stream as the stage's per-coin step sees it: trades and clock ticks, in order.
coin_stream = st.lists(
    st.one_of(
        st.tuples(st.just("trade"), st.integers(min_value=0, max_value=400)),
        st.tuples(st.just("tick"), st.integers(min_value=0, max_value=1_500)),
    ),
    max_size=60,
)


def _materialise(steps):
    items, ts, now = [], T0, T0
    for number, (kind, delta) in enumerate(steps):
        if kind == "trade":
            ts += delta
            items.append(Trade(id=str(number), coin="BTC", ts=ts, px=100.0 + number % 7, sz=1.0, side="B", tid=number))
        else:
            now = max(now, ts) + delta
            items.append(ClockTick(now))
    return items


@settings(max_examples=60)
@given(steps=coin_stream, cuts=st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=20))
def test_how_a_coins_stream_is_cut_into_batches_never_changes_its_output(steps, cuts):
    options = IngestOptions(bar_intervals_ms=(1_000,), lateness_ms=200, idle_close_s=0.5)
    items = _materialise(steps)

    def run(sizes):
        logic, out, start = _CoinLogic(options, EventClock(), None), [], 0
        sizes = iter(sizes)
        while start < len(items):
            size = next(sizes, 1)
            values, _ = logic.on_batch([items[start : start + size]])
            out.extend(value for batch in values for value in batch)
            start += size
        values, _ = logic.on_eof()
        return out + [value for batch in values for value in batch]

    def by_kind(out):
        # The stage splits a coin's output by kind into separate streams; each keeps its order.
        # A late trade re-emits its bar once per batch it arrives in, so for bars the order in
        # which they close and every bar's final version are what must not change.
        kinds = {kind: [value for value in out if type(value) is kind] for kind in {type(value) for value in out}}
        bars = kinds.pop(Bar, [])
        closing = list(dict.fromkeys(bar.id for bar in bars))
        final = {bar.id: bar for bar in bars}
        return kinds, closing, final

    whole = run([len(items)] if items else [])
    assert by_kind(run(cuts * 10)) == by_kind(whole)
    assert not any(type(value) is ClockTick for value in whole)
