"""Property tests: streamed bars equal a batch computation of the same trades."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from operators.bars import TradeBars
from pairflow.events import Bar, Trade
from tests.bars_reference import batch_bars

INTERVALS = (1_000, 5_000)


@st.composite
def tapes(draw: st.DrawFn) -> list[Trade]:
    """Draw unique trades on a realistic decimal grid, sorted by (ts, tid)."""
    count = draw(st.integers(min_value=1, max_value=120))
    start = draw(st.integers(min_value=0, max_value=10**12)) // 1_000 * 1_000
    trades = []
    ts = start
    for tid in range(count):
        ts += draw(st.integers(min_value=0, max_value=900))
        px = draw(st.integers(min_value=1, max_value=5_000_000)) / 100
        sz = draw(st.integers(min_value=1, max_value=10**7)) / 10**4
        side = draw(st.sampled_from(["B", "A"]))
        trades.append(Trade(id=f"t{tid}", coin="SOL", ts=ts, px=px, sz=sz, side=side, tid=tid))
    return trades


def as_tuple(bar: Bar) -> tuple:
    return (
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        bar.volume,
        bar.notional,
        bar.vwap,
        bar.trades,
        bar.buy_volume,
        bar.sell_volume,
    )


def stream(trades: list[Trade], lateness_ms: int) -> tuple[TradeBars, list[Bar]]:
    bars = TradeBars("SOL", intervals_ms=INTERVALS, lateness_ms=lateness_ms, retention_ms=10**9)
    out: list[Bar] = []
    for trade in trades:
        out.extend(bars.update(trade))
    out.extend(bars.close_all())
    return bars, out


def latest(out: list[Bar]) -> dict[str, tuple]:
    """Keep the last version of each bar id, as ReplacingMergeTree does."""
    return {bar.id: as_tuple(bar) for bar in out}


@given(tapes(), st.integers(min_value=1, max_value=3_000), st.randoms(use_true_random=False))
@settings(max_examples=150, deadline=None)
def test_disorder_within_lateness_gives_batch_bars_emitted_once(
    trades: list[Trade], lateness_ms: int, rng: random.Random
) -> None:
    arrival = sorted(trades, key=lambda t: t.ts + rng.randrange(lateness_ms))
    bars, out = stream(arrival, lateness_ms)
    assert sorted(bar.id for bar in out) == sorted(set(bar.id for bar in out)), "a bar was emitted twice"
    assert latest(out) == batch_bars(trades, INTERVALS)
    assert bars.late_trades == 0


@given(tapes(), st.integers(min_value=0, max_value=2_000), st.randoms(use_true_random=False))
@settings(max_examples=150, deadline=None)
def test_any_arrival_order_with_duplicates_converges_to_batch_bars(
    trades: list[Trade], lateness_ms: int, rng: random.Random
) -> None:
    arrival = trades + [rng.choice(trades) for _ in range(rng.randrange(len(trades) + 1))]
    rng.shuffle(arrival)
    bars, out = stream(arrival, lateness_ms)
    assert latest(out) == batch_bars(trades, INTERVALS)
    assert bars.duplicate_trades == len(arrival) - len(trades)
    counts: dict[str, int] = {}
    for bar in out:
        assert bar.trades > counts.get(bar.id, 0), "a revision must hold more trades than the bar it replaces"
        counts[bar.id] = bar.trades


@given(tapes(), st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_batching_does_not_change_the_bars(trades: list[Trade], rng: random.Random) -> None:
    """Every version, in order, whatever the batches: the first versions above all, which the strategy trades.

    A correction in the batch that closed its bar went out folded into the first version, so two readers
    cutting the same partition differently published different first versions (1 vs 2 ingest processes).
    """
    arrival = list(trades)
    rng.shuffle(arrival)
    _, one_by_one = stream(arrival, 500)
    bars = TradeBars("SOL", intervals_ms=INTERVALS, lateness_ms=500, retention_ms=10**9)
    batched: list[Bar] = []
    cut = 0
    while cut < len(arrival):
        step = rng.randrange(1, 20)
        batched.extend(bars.update_batch(arrival[cut : cut + step]))
        cut += step
    batched.extend(bars.close_all())
    assert batched == one_by_one


@settings(max_examples=100, deadline=None)
@given(tapes(), st.integers(min_value=0, max_value=10**11), st.integers(min_value=1, max_value=60))
def test_however_long_a_quiet_spell_the_clock_claims_no_later_trade_expires(
    trades: list[Trade], idle_ms: int, split: int
) -> None:
    """idle() closes every open bar, but a clock jump must not make the coin's next trades expired."""
    bars = TradeBars("SOL", intervals_ms=INTERVALS, lateness_ms=200, retention_ms=10_000)
    split = min(split, len(trades))
    emitted = bars.update_batch(trades[:split])
    emitted += bars.idle(idle_ms)
    emitted += bars.update_batch(trades[split:])
    emitted += bars.close_all()
    assert bars.expired_trades == 0
    latest = {bar.id: as_tuple(bar) for bar in emitted}
    assert latest == batch_bars(trades, INTERVALS)


@st.composite
def rough_tapes(draw: st.DrawFn) -> list[Trade]:
    """Draw trades with repeats, disorder and jumps past the retention: every path of `TradeBars.update_batch`."""
    count = draw(st.integers(min_value=1, max_value=150))
    trades: list[Trade] = []
    ts = draw(st.integers(min_value=0, max_value=10**6))
    for tid in range(count):
        if trades and draw(st.integers(min_value=0, max_value=9)) == 0:
            trades.append(draw(st.sampled_from(trades)))
            continue
        ts += draw(st.sampled_from([0, 1, 7, 150, 399, 400, 999, 1_000, 4_000, 30_000]))
        back = draw(st.sampled_from([0, 0, 0, 300, 2_500, 40_000]))
        px = draw(st.integers(min_value=1, max_value=5_000)) / 100
        trades.append(Trade(id=f"t{tid}", coin="SOL", ts=max(0, ts - back), px=px, sz=1.5, side="B", tid=tid))
    return trades


@given(rough_tapes(), st.sampled_from([(1_000, 5_000), (400, 1_000, 2_000), (2_000,)]),
       st.randoms(use_true_random=False))
@settings(max_examples=150, deadline=None)
def test_a_batch_folds_like_trades_one_by_one_through_expiry_and_eviction(
    trades: list[Trade], intervals: tuple[int, ...], rng: random.Random
) -> None:
    """`update_batch` remembers the bars and id bucket of the trade before and sums runs of trades in the same
    open bars before adding them; a trade alone looks them up and is added at once.

    With bars evicted and trades expired between two trades of a batch, and intervals that do not nest (a
    400 ms bar spans two 1 s bars), both give every version, count and watermark alike.
    """
    def fresh() -> TradeBars:
        return TradeBars("SOL", intervals_ms=intervals, lateness_ms=500, retention_ms=5_000)

    alone, one_by_one = fresh(), []
    for trade in trades:
        one_by_one += alone.update(trade)
    batched, out = fresh(), []
    cut = 0
    while cut < len(trades):
        step = rng.randrange(1, 60)
        out += batched.update_batch(trades[cut : cut + step])
        cut += step
    assert out == one_by_one
    assert (batched.expired_trades, batched.duplicate_trades, batched.late_trades, batched.watermark) == (
        alone.expired_trades, alone.duplicate_trades, alone.late_trades, alone.watermark)
    assert batched.snapshot() == alone.snapshot()
