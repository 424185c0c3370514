"""A start without recovered state, seeded with the stored trades of its open bars, stores an uninterrupted run's bars.

The model of a kill: the killed run received a coin's tape up to some trade
and stored it, with the bars it had emitted by then (an epoch's flush); the
restart's collector delivers the trades after the last stored one, maybe
with some stored ones again (a replay reaching further back). The store
keeps each bar's newest version (``2 * trades + incomplete``, the bar
tables' ReplacingMergeTree version); it must equal the uninterrupted run's.
"""

from __future__ import annotations

from collections.abc import Iterable

from msgspec.structs import replace

from hypothesis import given
from hypothesis import strategies as st

from flows.ingest import LOG_START, IngestOptions, _CoinLogic
from pairflow.clock import EventClock
from pairflow.events import Bar, Gap, Trade

T0 = 1_750_000_000_000
OPTIONS = IngestOptions(bar_intervals_ms=(1_000, 60_000), lateness_ms=500)

# Milliseconds since the previous trade (0: the same millisecond), price step, size, aggressor.
tapes = st.lists(
    st.tuples(st.integers(min_value=0, max_value=20_000), st.integers(min_value=-3, max_value=3),
              st.sampled_from((0.1, 0.25, 1.0, 2.5)), st.sampled_from("AB")),
    min_size=1, max_size=60,
)
cuts = st.lists(st.integers(min_value=1, max_value=8), min_size=1, max_size=10)


def _tape(steps: list[tuple[int, int, float, str]], start_offset: int) -> list[Trade]:
    trades, ts, px = [], T0 + start_offset, 100.0
    for tid, (delta, step, sz, side) in enumerate(steps, start=1):
        ts += delta
        px = max(1.0, px + step)
        trades.append(Trade(id=f"BTC:{tid}", coin="BTC", ts=ts, recv_ts=ts + 5, px=px, sz=sz, side=side, tid=tid))
    return trades


def _run(logic: _CoinLogic, items: list[Trade | Gap], sizes: list[int], *, end: bool) -> list[Bar]:
    """Feed ``items`` in batches of ``sizes`` (cycled); return the bars emitted, with the end-of-input ones if ``end``."""
    out: list[Bar] = []
    start, turn = 0, 0
    while start < len(items):
        size = sizes[turn % len(sizes)]
        values, _ = logic.on_batch([items[start : start + size]])
        out += [value for batch in values for value in batch if type(value) is Bar]
        start, turn = start + size, turn + 1
    if end:
        values, _ = logic.on_eof()
        out += [value for batch in values for value in batch]
    return out


def _stored(*runs: Iterable[Bar]) -> dict[str, Bar]:
    """Return what the bar tables keep of the runs' bars, written in this order: per id the highest version."""
    kept: dict[str, Bar] = {}
    for bar in (bar for run in runs for bar in run):
        held = kept.get(bar.id)
        if held is None or 2 * bar.trades + bar.incomplete >= 2 * held.trades + held.incomplete:
            kept[bar.id] = bar
    return kept


@given(steps=tapes, start_offset=st.integers(min_value=0, max_value=59_999), kill=st.data(), sizes=cuts,
       overlap=st.integers(min_value=0, max_value=5))
def test_a_seeded_restart_stores_the_bars_of_an_uninterrupted_run(steps, start_offset, kill, sizes, overlap):
    tape = _tape(steps, start_offset)
    uninterrupted = _stored(_run(_CoinLogic(OPTIONS, EventClock(), None), tape, sizes, end=True))

    stored_up_to = kill.draw(st.integers(min_value=1, max_value=len(tape)), label="trades stored before the kill")
    killed = _run(_CoinLogic(OPTIONS, EventClock(), None), tape[:stored_up_to], sizes, end=False)
    last = tape[stored_up_to - 1].ts
    # What resume_point reads back: the stored trades from where a bar may still have been open.
    since = OPTIONS.open_since(last)
    seeds = {"BTC": [trade for trade in tape[:stored_up_to] if trade.ts >= since]}
    # The restarted collector's first word on the coin: the trade gap of its downtime, filled by the replay.
    resumed = Gap(id=f"BTC:trades:{last}", coin="BTC", ts=last, stream="trades", start_ts=last, end_ts=last,
                  filled=True)
    received = [resumed, *tape[max(0, stored_up_to - overlap):]]
    restarted = _run(_CoinLogic(OPTIONS, EventClock(), None, seeds), received, sizes, end=True)

    assert _stored(killed, restarted) == uninterrupted


@given(steps=tapes, start_offset=st.integers(min_value=0, max_value=59_999), sizes=cuts)
def test_a_start_with_nothing_stored_marks_only_the_bars_before_its_first_trade_incomplete(steps, start_offset, sizes):
    tape = _tape(steps, start_offset)
    uninterrupted = _stored(_run(_CoinLogic(OPTIONS, EventClock(), None), tape, sizes, end=True))
    fresh = _stored(_run(_CoinLogic(OPTIONS, EventClock(), None, {}), tape, sizes, end=True))

    first = tape[0].ts
    unseen = {f"BTC:{label}:{first - first % interval}" for label, interval in (("1s", 1_000), ("1m", 60_000))
              if first % interval}
    assert {bar_id for bar_id, bar in fresh.items() if bar.incomplete} == unseen
    assert fresh == {bar_id: replace(bar, incomplete=True) if bar_id in unseen else bar
                     for bar_id, bar in uninterrupted.items()}


# Trades close together from late in a second, so arrivals out of time order often straddle a bar's start.
dense_tapes = st.lists(
    st.tuples(st.integers(min_value=0, max_value=300), st.integers(min_value=-3, max_value=3),
              st.sampled_from((0.1, 1.0)), st.sampled_from("AB")),
    min_size=1, max_size=30,
)


@given(steps=dense_tapes, start_offset=st.integers(min_value=500, max_value=999), delays=st.data(), sizes=cuts,
       other=cuts)
def test_what_a_start_with_nothing_stored_marks_does_not_depend_on_the_batches(steps, start_offset, delays, sizes,
                                                                              other):
    tape = _tape(steps, start_offset)
    # Arrival order: each trade up to 450 ms late (inside the 500 ms lateness), so none is dropped.
    late = delays.draw(st.lists(st.integers(min_value=0, max_value=450), min_size=len(tape), max_size=len(tape)))
    arrival = [trade for _, _, trade in sorted((trade.ts + delay, index, trade)
                                               for index, (trade, delay) in enumerate(zip(tape, late)))]
    one = _stored(_run(_CoinLogic(OPTIONS, EventClock(), None, LOG_START), arrival, sizes, end=True))
    two = _stored(_run(_CoinLogic(OPTIONS, EventClock(), None, LOG_START), arrival, other, end=True))

    assert one == two
    first = arrival[0].ts
    assert {bar_id for bar_id, bar in one.items() if bar.incomplete} == {
        bar_id for bar_id in one if int(bar_id.rsplit(":", 1)[1]) < first}


def test_a_late_trade_in_the_first_batch_does_not_unmark_the_first_received_trades_bar() -> None:
    first = Trade(id="BTC:2", coin="BTC", ts=T0 + 1_010, recv_ts=T0 + 1_015, px=100.0, sz=1.0, side="B", tid=2)
    late = Trade(id="BTC:1", coin="BTC", ts=T0 + 980, recv_ts=T0 + 1_020, px=100.0, sz=1.0, side="A", tid=1)
    for sizes in ([1], [2]):
        stored = _stored(_run(_CoinLogic(OPTIONS, EventClock(), None, LOG_START), [first, late], sizes, end=True))
        assert {bar_id for bar_id, bar in stored.items() if bar.incomplete} == {
            f"BTC:1s:{T0}", f"BTC:1s:{T0 + 1_000}", f"BTC:1m:{T0 - T0 % 60_000}"}, sizes
