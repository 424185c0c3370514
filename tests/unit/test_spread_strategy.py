"""SpreadStrategy: the per-spread decision path, its bad-input refusals and its model switches."""

from __future__ import annotations

import math
import pickle

import msgspec

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.check import check_operator
from operators.spread_strategy import Skip, SpreadStrategy
from pairflow.config import StrategySettings
from pairflow.events import BookSnapshot, Delisting, FeeSchedule, Funding, PairStats, Signal
from tests.strategy_support import bar, cointegrated_bars, corrected_legs, in_time_order, interleave

LEGS = ("ETH", "SOL")
BASE = StrategySettings(warmup_rows=40, zscore_window=40, heartbeat_rows=0, entry_z=1.5, exit_z=0.25)
ALL_ML = BASE.model_copy(update={
    "meta_label": True, "meta_warmup": 2, "anomaly_gate": True, "relation_break": True, "bandit": True,
})


def run(strategy: SpreadStrategy, events: list) -> list:
    out: list = []
    for event in events:
        out += strategy.update(event)
    return out


def signals(out: list) -> list[Signal]:
    return [item for item in out if isinstance(item, Signal)]


def test_signals_trade_the_spread_both_ways_with_hedged_leg_targets() -> None:
    out = run(SpreadStrategy(LEGS, BASE), cointegrated_bars(LEGS, 600, seed=3))
    # Only the very first bar is refused: the other leg has not printed yet.
    assert [item.kind for item in out if isinstance(item, Skip)] == ["missing"]
    emitted = signals(out)
    reasons = [s.reason for s in emitted]
    assert {"entry-long", "entry-short", "exit"} <= set(reasons)
    for signal in emitted:
        assert signal.id == f"ETH/SOL:{signal.ts}" and signal.legs == LEGS
        assert (signal.ts - 1_700_000_000_000) % 60_000 == 0  # stamped at a bar close
        assert set(signal.features) >= {"zscore", "zscore_change", "spread_vol", "error_z", "funding_diff_per_hour", "cost"}
        assert signal.model_versions == {"kalman": signal.model_versions["kalman"]}
        if signal.reason == "entry-long":
            assert signal.target == 1.0 and signal.zscore <= -1.5
            assert signal.leg_targets[0] > 0 > signal.leg_targets[1]
        elif signal.reason == "entry-short":
            assert signal.target == -1.0 and signal.zscore >= 1.5
            assert signal.leg_targets[0] < 0 < signal.leg_targets[1]
        else:
            assert signal.target == 0.0 and signal.leg_targets == (0.0, 0.0)
    # Every entry is closed by the next decision before another opens.
    assert all(a.startswith("entry") != b.startswith("entry") for a, b in zip(reasons, reasons[1:]))


def test_a_leg_without_a_bar_for_some_periods_costs_no_row_and_no_refusal() -> None:
    # ETH (first in each period) has no bar every third period, as a quiet coin's 1s bars in paper trading:
    # the SOL bar of the next period then catches up with a row already decided, which was fed to the Kalman
    # filter a second time and refused as out-of-order (an info line per bar in `pairflow trade`).
    sparse = [b for i, b in enumerate(cointegrated_bars(LEGS, 600, seed=3)) if b.coin == "SOL" or i // 2 % 3 != 1]
    strategy = SpreadStrategy(LEGS, BASE)
    out = run(strategy, sparse)
    assert [item.kind for item in out if isinstance(item, Skip)] == ["missing"]
    assert strategy.kalman.rejects == {} and strategy.rows == 400  # one row per period ETH printed
    assert signals(out)


def test_a_fresh_start_fed_one_legs_bars_before_the_others_makes_one_row_and_no_out_of_order() -> None:
    # A restart without recovered state (trade, demo) re-emits each coin's bars of the last minute from its stored
    # trades, one coin's batch after the other's: the second leg's bars caught up with the first row's time one
    # after another, each refused as out-of-order with the same ts.
    history = cointegrated_bars(LEGS, 60, seed=5)
    strategy = SpreadStrategy(LEGS, BASE.model_copy(update={"staleness_ms": 3_600_000}))
    out = run(strategy, [b for b in history if b.coin == "ETH"] + [b for b in history if b.coin == "SOL"])
    assert [item.kind for item in out if isinstance(item, Skip)] == ["missing"] * 60
    assert strategy.kalman.rejects == {} and strategy.rows == 1


def test_the_hedge_ratio_converges_to_the_planted_loading() -> None:
    strategy = SpreadStrategy(LEGS, BASE.model_copy(update={"heartbeat_rows": 1}))
    out = signals(run(strategy, cointegrated_bars(LEGS, 1500, seed=5)))
    assert out[-1].hedge_ratio == pytest.approx(1 / 0.8, abs=0.1)  # log ETH = log SOL / 0.8 + spread
    notional = out[-1].leg_targets  # flat at heartbeat rows: zero targets
    assert all(t == 0.0 for t in notional) or out[-1].target != 0.0


def test_costs_come_from_fees_books_and_funding() -> None:
    strategy = SpreadStrategy(LEGS, BASE.model_copy(update={"heartbeat_rows": 1, "notional_usd": 50.0}))
    bars = cointegrated_bars(LEGS, 60, seed=2)
    run(strategy, bars[:-2])
    for coin, mid in (("ETH", 100.0), ("SOL", 400.0)):
        strategy.update(BookSnapshot(id=coin, coin=coin, ts=1, bid_px=(mid - 0.01 * mid,), bid_sz=(100.0,),
                                     ask_px=(mid + 0.01 * mid,), ask_sz=(100.0,), mid=mid, spread_bps=200.0,
                                     imbalance=0.5 if coin == "ETH" else -0.5))
        strategy.update(Funding(id=coin, coin=coin, ts=1, rate=0.0001 if coin == "ETH" else 0.0002))
    strategy.update(FeeSchedule(id="fees", ts=1, taker=0.0004, maker=0.0001))
    (signal,) = signals(run(strategy, bars[-2:]))
    beta = signal.hedge_ratio
    assert signal.features["cost"] == pytest.approx(2 * (0.0004 + 0.01) * (1 + abs(beta)))
    assert signal.features["funding_diff_per_hour"] == pytest.approx(0.0001 - beta * 0.0002)
    assert signal.features["imbalance"] == pytest.approx(1.0)


BAD_PRICES = [float("nan"), 0.0, -3.0, float("inf")]


@pytest.mark.parametrize("price", BAD_PRICES)
def test_a_bad_price_is_refused_without_touching_state(price: float) -> None:
    strategy = SpreadStrategy(LEGS, ALL_ML)
    bars = cointegrated_bars(LEGS, 300, seed=4)
    run(strategy, bars[:200])
    clean = SpreadStrategy.restore(strategy.snapshot())
    (skip,) = strategy.update(bar("SOL", bars[200].ts, price))
    assert (skip.pair, skip.kind) == ("ETH/SOL", "invalid") and "SOL price was" in skip.detail
    assert run(strategy, bars[200:]) == run(clean, bars[200:])


def test_missing_stale_gap_and_out_of_order_bars_are_refused_with_their_reason() -> None:
    settings_ = BASE.model_copy(update={"staleness_ms": 120_000, "max_gap_ms": 300_000})
    strategy = SpreadStrategy(LEGS, settings_)
    t0 = 1_700_000_000_000
    assert strategy.update(bar("ETH", t0, 100.0)) == [Skip("ETH/SOL", t0, "missing", "no price yet for SOL")]
    run(strategy, [bar("SOL", t0, 400.0), bar("ETH", t0 + 60_000, 101.0), bar("SOL", t0 + 60_000, 401.0)])
    (late,) = strategy.update(bar("ETH", t0, 99.0))
    assert late.kind == "out-of-order"
    (corrected,) = strategy.update(bar("SOL", t0 + 60_000, 401.5))
    assert (corrected.kind, corrected.detail) == ("revision", f"SOL bar SOL:1m:{t0 + 60_000} was corrected after use")
    # SOL stops printing: three minutes on, its last bar is stale.
    (stale,) = strategy.update(bar("ETH", t0 + 240_000, 102.0))
    assert stale.kind == "stale" and stale.detail.startswith("SOL older than 120000 ms")
    # SOL comes back after a long silence: still stale until ETH prints, then that row follows a gap.
    assert [x.kind for x in strategy.update(bar("SOL", t0 + 600_000, 402.0))] == ["stale"]
    (gap,) = strategy.update(bar("ETH", t0 + 600_000, 102.5))
    assert (gap.kind, gap.detail) == ("gap", f"540000 ms since the previous row at {t0 + 60_000}")
    # The next period is used normally (ETH waits for SOL's bar of the same minute).
    assert strategy.update(bar("ETH", t0 + 660_000, 103.0)) == []
    assert strategy.update(bar("SOL", t0 + 660_000, 403.0)) == []
    assert strategy.rows == 3


def test_a_bar_overlapping_a_trade_gap_is_refused_without_touching_state() -> None:
    strategy = SpreadStrategy(LEGS, BASE)
    bars = cointegrated_bars(LEGS, 120, seed=16)
    run(strategy, bars[:100])
    clean = SpreadStrategy.restore(strategy.snapshot())
    gapped = msgspec.structs.replace(bars[100], incomplete=True)
    assert strategy.update(gapped) == [Skip("ETH/SOL", gapped.ts, "incomplete", f"ETH bar {gapped.id} overlaps a trade gap")]
    assert run(strategy, bars[100:]) == run(clean, bars[100:])


def test_a_leg_of_another_spread_is_refused() -> None:
    strategy = SpreadStrategy(LEGS, BASE)
    (skip,) = strategy.update(Funding(id="x", coin="BTC", ts=5, rate=0.0001))
    assert skip == Skip("ETH/SOL", 5, "unknown-leg", "BTC is not a leg of ETH/SOL")
    (bad,) = strategy.update(Funding(id="x", coin="ETH", ts=6, rate=float("nan")))
    assert bad.kind == "invalid"


def test_models_switched_off_leave_the_rule_alone_and_switched_on_report_versions() -> None:
    bars = cointegrated_bars(LEGS, 800, seed=6)
    baseline = signals(run(SpreadStrategy(LEGS, BASE), bars))
    assert baseline == signals(run(SpreadStrategy(LEGS, BASE), bars))
    with_models = signals(run(SpreadStrategy(LEGS, ALL_ML), bars))
    assert {"kalman", "meta_label", "hst", "adwin", "bandit"} <= set(with_models[-1].model_versions)
    learned = [int(s.model_versions["meta_label"].split(":")[1]) for s in with_models]
    assert learned == sorted(learned) and learned[-1] > 0


def test_meta_label_in_size_mode_scales_the_target_by_its_probability() -> None:
    sized = BASE.model_copy(update={"meta_label": True, "meta_mode": "size", "meta_warmup": 3})
    out = signals(run(SpreadStrategy(LEGS, sized), cointegrated_bars(LEGS, 1200, seed=7)))
    entries = [s for s in out if s.reason.startswith("entry") and "meta_probability" in s.features]
    assert entries
    for s in entries:
        assert abs(s.target) == pytest.approx(s.features["meta_probability"])


def test_relation_break_retires_the_spread_until_readmitted() -> None:
    retiring = BASE.model_copy(update={"relation_break": True, "heartbeat_rows": 0})
    strategy = SpreadStrategy(LEGS, retiring)
    bars = cointegrated_bars(LEGS, 500, seed=8)
    run(strategy, bars)
    # The relation breaks: SOL wanders off on its own for many rows.
    broken = cointegrated_bars(("ETH", "XXX"), 600, seed=9, start_ms=bars[-1].ts + 60_000, spread_std=0.05)
    after = run(strategy, [b if b.coin == "ETH" else bar("SOL", b.ts, b.close) for b in broken])
    reasons = [s.reason for s in signals(after)]
    assert "retired" in reasons
    assert not [r for r in reasons[reasons.index("retired") + 1:] if r.startswith("entry")]
    # A rescan that rejects the spread, or accepts another one, changes nothing; accepting it re-admits it.
    assert strategy.update(scan_verdict(("ETH", "SOL"), accepted=False)) == []
    strategy.update(scan_verdict(("ETH", "BTC"), accepted=True))
    assert strategy.breaks is not None and strategy.breaks.retired
    strategy.update(scan_verdict(("ETH", "SOL"), accepted=True))
    assert not strategy.breaks.retired
    resumed = run(strategy, [bar(b.coin, b.ts + 3_600_000, b.close) for b in cointegrated_bars(LEGS, 300, seed=8, start_ms=broken[-1].ts)])
    assert any(s.reason.startswith("entry") for s in signals(resumed))


def test_a_delisted_leg_closes_the_open_position_once_and_retires_the_spread_for_good() -> None:
    strategy = SpreadStrategy(LEGS, BASE)
    bars = cointegrated_bars(LEGS, 600, seed=3)
    opened = next(i for i, out in enumerate(strategy.update(b) for b in bars) if signals(out) and strategy.position)
    before = strategy.snapshot()
    assert strategy.update(Delisting(id="BTC:delisted", coin="BTC", ts=bars[opened].ts)) == []
    assert strategy.snapshot() == before  # another coin's delisting changes nothing

    out = strategy.update(Delisting(id="SOL:delisted", coin="SOL", ts=bars[opened].ts))
    assert [s.kind for s in out if isinstance(s, Skip)] == ["delisted"]
    (flat,) = signals(out)
    assert (flat.reason, flat.target, flat.leg_targets, flat.ts) == ("delisted", 0.0, (0.0, 0.0), bars[opened].ts + 60_001)
    assert strategy.position is None
    assert strategy.update(Delisting(id="SOL:delisted", coin="SOL", ts=bars[opened].ts + 1)) == []
    later = run(strategy, bars[opened + 1:] + [scan_verdict(LEGS, accepted=True)] + bars[opened + 1:])
    assert not signals(later) and {s.kind for s in later} == {"delisted"}


def test_a_spread_delisted_before_its_first_row_sends_no_signal() -> None:
    strategy = SpreadStrategy(LEGS, BASE)
    out = strategy.update(Delisting(id="ETH:delisted", coin="ETH", ts=5))
    assert out == [Skip("ETH/SOL", 5, "delisted", "ETH was delisted: spread retired")]


def scan_verdict(coins: tuple[str, ...], accepted: bool) -> PairStats:
    return PairStats(id=f"scan:{'/'.join(coins)}", ts=1, pair="/".join(coins), coin_a=coins[0], coin_b=coins[1],
                     window_start=0, window_end=1, correlation=0.9, hedge_ratio=1.0, eg_pvalue=0.01,
                     coins=coins, accepted=accepted)


def test_spread_strategy_passes_the_operator_battery_with_every_model_on() -> None:
    events = cointegrated_bars(LEGS, 260, seed=10)
    check_operator(SpreadStrategy(LEGS, ALL_ML), events)


def test_a_basket_of_three_legs_signals_with_two_hedge_ratios() -> None:
    legs = ("AAVE", "UNI", "LINK")
    out = signals(run(SpreadStrategy(legs, BASE), cointegrated_bars(legs, 600, seed=11)))
    assert out and all(len(s.hedge_ratios) == 2 and len(s.leg_targets) == 3 for s in out)


@settings(max_examples=15, deadline=None)
@given(cut=st.integers(100, 380), bump=st.floats(0.5, 2.0))
def test_no_look_ahead_changing_later_bars_leaves_earlier_signals_unchanged(cut: int, bump: float) -> None:
    bars = cointegrated_bars(LEGS, 200, seed=12)
    changed = bars[:cut] + [bar(b.coin, b.ts, b.close * bump) for b in bars[cut:]]
    first = run(SpreadStrategy(LEGS, ALL_ML), bars)
    second = run(SpreadStrategy(LEGS, ALL_ML), changed)
    horizon = bars[cut].ts  # rows at or after the first changed bar may differ
    assert [s for s in first if s.ts <= horizon] == [s for s in second if s.ts <= horizon]


def test_state_pickles_mid_stream() -> None:
    strategy = SpreadStrategy(LEGS, ALL_ML)
    bars = cointegrated_bars(LEGS, 300, seed=13)
    run(strategy, bars[:150])
    copy = pickle.loads(pickle.dumps(strategy))
    assert run(copy, bars[150:]) == run(strategy, bars[150:])
    assert not math.isnan(strategy.kalman.state[0][0])


@settings(max_examples=20, deadline=None)
@given(st.randoms(use_true_random=False))
def test_with_a_reorder_hold_signals_do_not_depend_on_how_legs_interleave(rng) -> None:
    held = BASE.model_copy(update={"reorder_ms": 10 * 86_400_000, "heartbeat_rows": 15})
    bars = cointegrated_bars(LEGS, 120, seed=14)
    legs = {coin: [b for b in bars if b.coin == coin] for coin in LEGS}
    shuffled = []
    while any(legs.values()):  # a random merge that keeps each leg's own order
        coin = rng.choice([c for c in LEGS if legs[c]])
        shuffled.append(legs[coin].pop(0))
    in_order, interleaved = SpreadStrategy(LEGS, held), SpreadStrategy(LEGS, held)
    expected = run(in_order, bars) + in_order.flush()
    assert run(interleaved, shuffled) + interleaved.flush() == expected
    assert signals(expected) == signals(run(SpreadStrategy(LEGS, BASE.model_copy(update={"heartbeat_rows": 15})), bars))


@settings(max_examples=20, deadline=None)
@given(st.randoms(use_true_random=False))
def test_with_a_reorder_hold_corrected_bars_do_not_make_signals_depend_on_how_legs_interleave(rng) -> None:
    """Ingest re-emits a bar a late trade corrected, a few bars later in its coin's own sequence; whether the
    first version is still held for the other leg when the correction arrives must not change what is traded."""
    held = BASE.model_copy(update={"reorder_ms": 10 * 86_400_000, "heartbeat_rows": 15})
    sequences = corrected_legs(cointegrated_bars(LEGS, 120, seed=14))
    in_order, shuffled = SpreadStrategy(LEGS, held), SpreadStrategy(LEGS, held)
    expected = signals(run(in_order, interleave(sequences, in_time_order)) + in_order.flush())
    assert len(expected) >= 5, "too few signals to compare"
    assert signals(run(shuffled, interleave(sequences, rng.choice)) + shuffled.flush()) == expected


def test_leg_merger_passes_the_operator_battery() -> None:
    from operators.leg_merge import LegMerger

    bars = cointegrated_bars(LEGS, 60, seed=15)
    check_operator(LegMerger(LEGS, hold_ms=180_000), bars[1::2] + bars[::2])


def test_leg_merger_holds_without_limit_until_every_leg_was_seen_and_again_after_a_restart() -> None:
    from operators.leg_merge import LegMerger

    merge = LegMerger(LEGS, hold_ms=120_000, max_held=50)
    t0 = 1_700_000_000_000
    # SOL's partition has not been read yet: ETH waits well past the hold.
    assert [out for minute in range(10) for out in merge.update(bar("ETH", t0 + minute * 60_000, 100.0))] == []
    released = merge.update(bar("SOL", t0, 400.0))
    assert [(b.coin, b.ts) for b in released] == [("ETH", t0), ("SOL", t0)] + [("ETH", t0 + m * 60_000) for m in range(1, 8)]
    merge.restart()
    assert merge.update(bar("ETH", t0 + 20 * 60_000, 101.0)) == []  # held again: SOL not seen since the restart
    # A leg that never prints holds the others at most max_held bars.
    silent = LegMerger(LEGS, hold_ms=0, max_held=5)
    out = [b for minute in range(8) for b in silent.update(bar("ETH", t0 + minute * 60_000, 100.0))]
    assert [b.ts for b in out] == [t0, t0 + 60_000, t0 + 120_000]


def test_the_kalman_rule_trades_bands_on_the_standardised_forecast_error() -> None:
    kalman_rule = BASE.model_copy(update={"rule": "kalman", "entry_z": 1.0, "exit_z": 0.2})
    out = signals(run(SpreadStrategy(LEGS, kalman_rule), cointegrated_bars(LEGS, 600, seed=17)))
    entries = [s for s in out if s.reason.startswith("entry")]
    assert entries
    for signal in entries:
        error_z = signal.features["error_z"]
        assert abs(error_z) >= 1.0 and (signal.target > 0) == (error_z < 0)
    assert out != signals(run(SpreadStrategy(LEGS, BASE), cointegrated_bars(LEGS, 600, seed=17)))
