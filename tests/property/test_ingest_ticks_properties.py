"""Clock ticks in the ingest stage: how often they come, and that neither batch cuts nor read speed change the bars."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.ingest import IngestOptions, _CoinLogic
from flows.ticks import ClockTick, Ticker
from operators.bars import TradeBars
from pairflow.clock import EventClock, ManualClock
from pairflow.events import Bar, Trade
from sources.progress import PROGRESS_KEY, ReadProgress
from tests.bars_reference import batch_bars

T0 = 1_750_000_000_000

batches_of_keys = st.lists(
    st.tuples(st.integers(min_value=0, max_value=900), st.lists(st.sampled_from("ABC"), max_size=3, unique=True)),
    max_size=30,
)


@given(batches=batches_of_keys, every_ms=st.integers(min_value=1, max_value=1_000))
def test_ticks_reach_every_known_key_once_and_no_more_often_than_asked(batches, every_ms):
    clock = ManualClock(T0)
    # Every key stays "arriving" (stall_ms far off): the tick time is the oldest of the keys' newest
    # event times. Quiet keys and the run-on with the clock are in the doctest and the tests below.
    ticker = Ticker(clock, every_ms, follows=Trade, stall_ms=10**9)
    known: set[str] = set()
    newest: dict[str, int] = {}
    last_tick = None
    for advance, keys in batches:
        clock.advance(advance)
        event_ms = clock.now_ms() - 60_000  # a backlog a minute behind
        groups = [(key, [Trade(id=key, coin=key, ts=event_ms, px=1.0, sz=1.0, side="B")]) for key in keys]
        known |= set(keys)
        newest |= dict.fromkeys(keys, event_ms)
        out = ticker(groups)
        for key, items in out:
            assert [item.coin for item in items if type(item) is not ClockTick] in ([], [key])
        ticks = [(key, items[-1]) for key, items in out if items and type(items[-1]) is ClockTick]
        due = known and (last_tick is None or clock.now_ms() - last_tick >= every_ms)
        if due:
            last_tick = clock.now_ms()
            assert sorted(key for key, _ in ticks) == sorted(known)
            assert all(tick == ClockTick(min(newest.values()), clock.now_ms()) for _, tick in ticks)
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
            items.append(ClockTick(now, now))
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
        # The stage splits a coin's output by kind into separate streams; each keeps its order. For bars
        # that is every version in order, corrections included: each goes out at the trade that makes it.
        return {kind: [value for value in out if type(value) is kind] for kind in {type(value) for value in out}}

    whole = run([len(items)] if items else [])
    assert by_kind(run(cuts * 10)) == by_kind(whole)
    assert not any(type(value) is ClockTick for value in whole)


OPTIONS = IngestOptions(bar_intervals_ms=(1_000, 60_000), lateness_ms=500, idle_close_s=2.0)


def _read(batches: list[tuple[int, list[tuple[str, list[Trade]]]]], every_ms: int) -> dict[str, list[Bar]]:
    """Run ``(wall ms to wait, groups)`` batches of a backlog through a ticker and per-coin logic on a manual wall clock.

    The reader says with its first batch that records wait (`sources.progress`), as a broker's does.
    """
    wall = ManualClock(T0 + 3_600_000)  # the backlog is an hour old
    ticker = Ticker(wall, every_ms, follows=Trade, stall_ms=round(OPTIONS.idle_close_s * 1_000))
    logics: dict[str, _CoinLogic] = {}
    bars: dict[str, list[Bar]] = {}
    for number, (wait_ms, groups) in enumerate(batches):
        wall.advance(wait_ms)
        if number == 0:
            groups = [(PROGRESS_KEY, [ReadProgress("md.trades", 0, at_end=False)]), *groups]
        for coin, items in ticker(groups):
            logic = logics.setdefault(coin, _CoinLogic(OPTIONS, wall, None))
            for values in logic.on_batch([items])[0]:
                bars.setdefault(coin, []).extend(value for value in values if type(value) is Bar)
    for coin, logic in logics.items():
        for values in logic.on_eof()[0]:
            bars.setdefault(coin, []).extend(values)
    return bars


def _tape(coin: str, count: int, spacing_ms: int) -> list[Trade]:
    return [
        Trade(id=f"{coin}:{i}", coin=coin, ts=T0 + spacing_ms * i, px=100.0 + i % 5, sz=1.0, side="AB"[i % 2], tid=i)
        for i in range(count)
    ]


def test_a_backlog_partition_read_later_than_another_is_not_cut_early() -> None:
    """Three seconds of wall time reading BTC's partition alone must not close ETH's bar half read.

    ETH's trades up to 2.4 s are read, then only BTC's partition for 3 s of wall time (BTC
    reaching 3.5 s of event time), then the rest of ETH. On wall-clock idle closing ETH's bar
    of second 2 went out with 5 of its 10 trades, and the strategy trades first versions.
    """
    btc, eth = _tape("BTC", 100, 100), _tape("ETH", 100, 100)
    batches = [(0, [("ETH", eth[:25]), ("BTC", btc[:30])])]
    batches += [(500, [("BTC", btc[30 + i : 31 + i])]) for i in range(6)]
    batches += [(0, [("ETH", eth[25:]), ("BTC", btc[36:])])]
    first = {}
    for bar in _read(batches, every_ms=500)["ETH"]:
        first.setdefault(bar.id, bar)
    complete = batch_bars(eth, OPTIONS.bar_intervals_ms)
    assert first.keys() == complete.keys()
    assert first[f"ETH:1s:{T0 + 2_000}"].trades == 10
    assert all(first[bar_id].trades == complete[bar_id][7] for bar_id in complete)


# A partition's trades of three coins in event-time order (ties allowed), read in batches of
# random sizes with random wall-clock waits before each: a slow, stalling consumer.
partition = st.lists(
    st.tuples(st.sampled_from(["BTC", "ETH", "SOL"]), st.integers(min_value=0, max_value=700)), min_size=1, max_size=80
)
reads = st.lists(st.tuples(st.integers(min_value=1, max_value=9), st.integers(min_value=0, max_value=5_000)),
                 min_size=1, max_size=30)


@settings(max_examples=80, deadline=None)
@given(steps=partition, cuts=reads, every_ms=st.integers(min_value=1, max_value=1_000))
def test_a_backlog_gives_the_same_bars_however_fast_and_in_what_batches_it_is_read(steps, cuts, every_ms):
    trades, ts = [], T0
    for number, (coin, delta) in enumerate(steps):
        ts += delta
        trades.append(Trade(id=f"{coin}:{number}", coin=coin, ts=ts, px=10.0 + number % 7, sz=1.0 + number % 3,
                            side="B", tid=number))

    def batches(plan):
        out, start, plan = [], 0, iter(plan)
        while start < len(trades):
            size, wait_ms = next(plan, (1, 0))
            groups: dict[str, list[Trade]] = {}
            for trade in trades[start : start + size]:
                groups.setdefault(trade.coin, []).append(trade)
            out.append((wait_ms, list(groups.items())))
            start += size
        return out

    slow = _read(batches(cuts * 4), every_ms)
    at_once = _read(batches([(len(trades), 0)]), every_ms)
    assert slow == at_once
    for coin, bars in slow.items():
        complete = batch_bars([trade for trade in trades if trade.coin == coin], OPTIONS.bar_intervals_ms)
        first = {}
        for bar in bars:
            first.setdefault(bar.id, bar)
        # Every bar goes out once, complete: nothing was cut before its trades were read.
        assert len(bars) == len(first) and first.keys() == complete.keys()
        assert all(first[bar_id].trades == complete[bar_id][7] for bar_id in complete)


def _partition_tape(coins: str, steps: list[int], first_tid: int) -> list[Trade]:
    trades, ts = [], T0
    for number, delta in enumerate(steps):
        ts += delta
        coin = coins[number % len(coins)]
        tid = first_tid + number
        trades.append(Trade(id=f"{coin}:{tid}", coin=coin, ts=ts, px=10.0 + tid % 7, sz=1.0, side="A", tid=tid))
    return trades


gaps = st.lists(st.integers(min_value=0, max_value=900), min_size=1, max_size=60)


@settings(max_examples=80, deadline=None)
@given(left=gaps, right=gaps, turns=st.lists(st.tuples(st.booleans(), st.integers(min_value=1, max_value=40),
                                                     st.integers(min_value=0, max_value=40)), max_size=30))
def test_two_partitions_read_in_any_interleaving_give_the_bars_read_one_by_one(left, right, turns):
    """One partition may run far ahead of the other in event time: the other's coins are not cut early.

    Partition one holds BTC and ETH, partition two SOL, each in event-time order; they are read in
    turns of random sizes with a little wall time between (no partition goes unread for idle_close_s).
    """
    partitions = [_partition_tape("BTC ETH".split(), left, 0), _partition_tape(["SOL"], right, 10_000)]
    plan, read = [], [0, 0]
    for second, size, wait_ms in [*turns, (False, 10**6, 0), (True, 10**6, 0)]:
        part = partitions[second]
        chunk = part[read[second] : read[second] + size]
        read[second] += len(chunk)
        groups: dict[str, list[Trade]] = {}
        for trade in chunk:
            groups.setdefault(trade.coin, []).append(trade)
        plan.append((wait_ms, list(groups.items())))
    out = _read(plan, every_ms=1)
    for coin, bars in out.items():
        complete = batch_bars([t for part in partitions for t in part if t.coin == coin], OPTIONS.bar_intervals_ms)
        first = {}
        for bar in bars:
            first.setdefault(bar.id, bar)
        assert len(bars) == len(first) and first.keys() == complete.keys()
        assert all(first[bar_id].trades == complete[bar_id][7] for bar_id in complete)


def _read_behind(partitions: list[list[Trade]], plan: list[tuple[int, int, int]], workers: int) -> dict[str, list]:
    """Read ``partitions`` with records waiting, as ``plan`` says: ``(partition, records, wall ms waited before)``.

    Partition ``i`` is read by worker ``i % workers`` (its own `Ticker`), and reports with its first
    records that more wait. After every wait each coin is notified, as Bytewax does once a coin's
    wake-up time passes (here sooner and more often: harsher). Every bar version is kept, in order.
    """
    wall = ManualClock(T0 + 3_600_000)
    tickers = [Ticker(wall, 500, follows=Trade, stall_ms=round(OPTIONS.idle_close_s * 1_000)) for _ in range(workers)]
    logics: dict[str, _CoinLogic] = {}
    out: dict[str, list] = {}

    def keep(coin: str, values: list[list]) -> None:
        out.setdefault(coin, []).extend(value for batch in values for value in batch if type(value) is Bar)

    read = [0] * len(partitions)
    for index, size, wait_ms in plan:
        wall.advance(wait_ms)
        for coin, logic in logics.items():
            keep(coin, logic.on_notify()[0])
        groups: dict[str, list] = {}
        if read[index] == 0:
            groups[PROGRESS_KEY] = [ReadProgress("md.trades", index, at_end=False)]
        for trade in partitions[index][read[index] : read[index] + size]:
            groups.setdefault(trade.coin, []).append(trade)
        read[index] += size
        for coin, items in tickers[index % workers](list(groups.items())):
            logic = logics.setdefault(coin, _CoinLogic(OPTIONS, wall, None))
            keep(coin, logic.on_batch([items])[0])
    for coin, logic in logics.items():
        keep(coin, logic.on_eof()[0])
    return out


disordered_gaps = st.lists(st.integers(min_value=-1_500, max_value=900), min_size=1, max_size=60)
plans = st.lists(st.tuples(st.booleans(), st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=6_000)),
                 max_size=30)


@settings(max_examples=80, deadline=None)
@given(left=disordered_gaps, right=disordered_gaps, turns=plans, workers=st.sampled_from([1, 2]))
def test_while_a_backlog_is_read_wall_time_and_batches_change_no_bar_version(left, right, turns, workers):
    """Stalls of seconds, any batches, one worker or a cluster: each coin's versions are its trades' alone.

    Two partitions (BTC and ETH in one, SOL in the other; trades up to 1.5 s out of order, some later than
    the lateness) are read with records waiting, in turns of random sizes with up to 6 s of wall time
    between them, by one worker or by a worker each. Every coin publishes exactly the versions its own
    trades make one by one, first versions included: nothing is closed on the wall clock while the
    reader is behind, and no worker's ticks reach another's coins. (Before: a stalled reader's coins
    were closed as if the market had gone quiet, and a correction folded into the batch that closed its
    bar went out as its first version.)
    """
    partitions = [_partition_tape("BTC ETH".split(), left, 0), _partition_tape(["SOL"], right, 10_000)]
    plan = [(int(second), size, wait_ms) for second, size, wait_ms in turns]
    plan += [(0, 10**6, 0), (1, 10**6, 0)]
    out = _read_behind(partitions, plan, workers)
    for coin in ("BTC", "ETH", "SOL"):
        alone = TradeBars(coin, OPTIONS.bar_intervals_ms, OPTIONS.lateness_ms, OPTIONS.retention_ms)
        expected = [bar for trade in (t for part in partitions for t in part if t.coin == coin)
                    for bar in alone.update(trade)] + alone.close_all()
        assert out.get(coin, []) == expected
