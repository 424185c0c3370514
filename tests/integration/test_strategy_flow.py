"""The strategy stage in Bytewax: same signals as the operators run by hand, isolation of bad input, recovery."""

from __future__ import annotations

from datetime import timedelta
from collections.abc import Iterator
from pathlib import Path

import bytewax.operators as op
import pickle

import pytest
from hypothesis import example, given, settings, strategies as st
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, cluster_main, run_main

from flows.ingest import prepare_recovery
from flows.strategy import _FanOut, resolve_spreads, strategy_stage, universe_pairs
from operators.spread_strategy import SpreadStrategy
from pairflow.config import StrategySettings
from pairflow.control import Control
from pairflow.events import AssetContext, Bar, Delisting, FeeSchedule, Funding, PairStats, Signal
from pairflow.storage import BatchWriter, Store
from pairflow.metrics import STRATEGY_REFUSED_EVENTS, STRATEGY_REFUSED_SPREADS
from tests.strategy_support import bar, cointegrated_bars

SETTINGS = StrategySettings(
    warmup_rows=30, zscore_window=30, heartbeat_rows=25, entry_z=1.5, exit_z=0.25,
    meta_label=True, meta_warmup=2, anomaly_gate=True, relation_break=True, bandit=True,
)
SPREADS = [("ETH", "SOL"), ("AAVE", "UNI", "LINK")]


def market_bars(rows: int = 160) -> list[Bar]:
    """Bars of both spreads' legs interleaved in time order."""
    first = cointegrated_bars(SPREADS[0], rows, seed=21)
    second = cointegrated_bars(SPREADS[1], rows, seed=22)
    return sorted(first + second, key=lambda b: b.ts)


def by_hand(events: list, spreads=SPREADS) -> list[Signal]:
    """The plain loop: each spread's operator fed its own legs' events."""
    out = []
    for legs in spreads:
        strategy = SpreadStrategy(legs, SETTINGS)
        for event in events:
            if isinstance(event, FeeSchedule) or event.coin in legs:
                out += [s for s in strategy.update(event) if isinstance(s, Signal)]
    return out


def run_flow(items: list, spreads=SPREADS, recovery: Path | None = None, captured: list | None = None) -> list[Signal]:
    flow = Dataflow("strategy_test")
    captured = [] if captured is None else captured
    stream = op.input("bars", flow, TestingSource(items, batch_size=1 if recovery else 50))
    signals = strategy_stage("strategy", stream, spreads, SETTINGS)
    op.output("out", signals, TestingSink(captured))
    run_main(flow, epoch_interval=timedelta(0), recovery_config=prepare_recovery(recovery, "strategy flow test") if recovery else None)
    return [signal for _, batch in captured for signal in batch]


def keyed(events: list) -> list:
    return [(event.coin, [event]) for event in events]


def ordered(signals: list[Signal]) -> list[Signal]:
    return sorted(signals, key=lambda s: (s.pair, s.ts))


def test_the_stage_emits_what_the_operators_give_by_hand() -> None:
    events = market_bars()
    events.insert(40, Funding(id="f", coin="SOL", ts=events[40].ts, rate=0.0002))
    events.insert(41, FeeSchedule(id="fees", ts=events[41].ts, taker=0.0003, maker=0.0001))
    flowed = run_flow([(getattr(e, "coin", "*"), [e]) for e in events])
    assert flowed and {s.pair for s in flowed} == {"ETH/SOL", "AAVE/UNI/LINK"}
    assert ordered(flowed) == ordered(by_hand(events))


@pytest.mark.parametrize("bad_close", [float("nan"), 0.0, -1.0])
def test_bad_bars_of_one_spread_leave_it_and_the_others_as_without_them(bad_close: float) -> None:
    clean = market_bars()
    poisoned = list(clean)
    at = len(poisoned) // 2
    ts = poisoned[at].ts
    # A bad price, a stale print from long ago and an unknown coin, all on ETH/SOL's side.
    poisoned[at:at] = [bar("SOL", ts + 1, bad_close), bar("ETH", ts - 3_600_000, 1.0), bar("BTC", ts, 1.0)]
    before = STRATEGY_REFUSED_EVENTS.labels(pair="ETH/SOL", reason="invalid")._value.get()
    stale_before = STRATEGY_REFUSED_EVENTS.labels(pair="ETH/SOL", reason="out-of-order")._value.get()
    flowed = run_flow(keyed(poisoned))
    assert ordered(flowed) == ordered(run_flow(keyed(clean)))
    assert STRATEGY_REFUSED_EVENTS.labels(pair="ETH/SOL", reason="invalid")._value.get() == before + 1
    assert STRATEGY_REFUSED_EVENTS.labels(pair="ETH/SOL", reason="out-of-order")._value.get() == stale_before + 1


def test_a_spread_whose_leg_stops_printing_pauses_while_the_other_trades_on() -> None:
    events = [e for e in market_bars(240) if not (e.coin == "SOL" and e.ts > 1_700_000_000_000 + 100 * 60_000)]
    flowed = run_flow(keyed(events))
    eth_sol = [s for s in flowed if s.pair == "ETH/SOL"]
    assert eth_sol and max(s.ts for s in eth_sol) <= 1_700_000_000_000 + 101 * 60_000
    basket = [s for s in flowed if s.pair == "AAVE/UNI/LINK"]
    assert basket == [s for s in by_hand(events, SPREADS[1:])]
    assert max(s.ts for s in basket) > 1_700_000_000_000 + 200 * 60_000


def test_a_coin_delisted_mid_run_flattens_and_stops_its_spreads_and_leaves_the_others_alone() -> None:
    events = market_bars(240)
    at = len(events) // 2
    delisted_at = events[at].ts
    events.insert(at, Delisting(id="SOL:delisted", coin="SOL", ts=delisted_at, recv_ts=delisted_at))
    refused = STRATEGY_REFUSED_EVENTS.labels(pair="ETH/SOL", reason="delisted")._value.get()
    flowed = run_flow(keyed(events))

    eth_sol = [s for s in flowed if s.pair == "ETH/SOL"]
    assert eth_sol[:-1] == [s for s in by_hand(events[:at], SPREADS[:1])]
    last = eth_sol[-1]
    assert (last.reason, last.target, last.leg_targets) == ("delisted", 0.0, (0.0, 0.0))
    assert last.ts > eth_sol[-2].ts and last.ts >= delisted_at
    # the event itself and every later bar of either leg: counted, nothing else signalled
    later = sum(1 for e in events[at + 1:] if e.coin in SPREADS[0])
    assert STRATEGY_REFUSED_EVENTS.labels(pair="ETH/SOL", reason="delisted")._value.get() == refused + 1 + later
    basket = [s for s in flowed if s.pair == "AAVE/UNI/LINK"]
    assert basket == by_hand(events, SPREADS[1:]) and max(s.ts for s in basket) > last.ts


def test_configured_spreads_with_unknown_or_delisted_coins_are_refused() -> None:
    unknown = STRATEGY_REFUSED_SPREADS.labels(reason="unknown-coin")._value.get()
    delisted = STRATEGY_REFUSED_SPREADS.labels(reason="delisted")._value.get()
    spreads = resolve_spreads(
        ["ETH/SOL", "ETH/NOPE", "AAVE/UNI/LINK", "ETH/SOL", "FTT/ETH"],
        listed={"ETH", "SOL", "AAVE", "UNI", "LINK", "FTT"},
        delisted={"FTT"},
    )
    assert spreads == SPREADS
    assert STRATEGY_REFUSED_SPREADS.labels(reason="unknown-coin")._value.get() == unknown + 1
    assert STRATEGY_REFUSED_SPREADS.labels(reason="delisted")._value.get() == delisted + 1


def test_killed_and_resumed_from_recovery_the_stage_gives_identical_signals(tmp_path: Path) -> None:
    items = keyed(market_bars(110))
    uninterrupted = run_flow(items)
    third = len(items) // 3
    aborting = [*items[:third], TestingSource.ABORT(), *items[third : 2 * third], TestingSource.ABORT(), *items[2 * third :]]
    # Each ABORT stops the run abruptly (once); the next run resumes from the last snapshot.
    emitted = [run_flow(aborting, recovery=tmp_path / "recovery") for _ in range(3)]
    assert all(emitted) and sum(map(len, emitted)) >= len(uninterrupted)
    last = [max(s.ts for s in run) for run in emitted]
    assert last[0] < last[1] < last[2] == max(s.ts for s in uninterrupted)
    # Signals emitted again around a resume are the same records (same id, same content).
    resumed: dict[str, Signal] = {}
    for signal in (s for run in emitted for s in run):
        assert resumed.setdefault(signal.id, signal) == signal
    assert ordered(list(resumed.values())) == ordered(uninterrupted)


def verdict(scan_id: str, ts: int, coins: tuple[str, ...], accepted: bool, rank: int) -> PairStats:
    return PairStats(id=f"{scan_id}:{'/'.join(coins)}", ts=ts, pair="/".join(coins), coin_a=coins[0], coin_b=coins[1],
                     window_start=0, window_end=ts, correlation=0.9, hedge_ratio=1.0, eg_pvalue=0.01, rank=rank,
                     scan_id=scan_id, coins=coins, interval="1h", accepted=accepted)


def test_a_rescan_on_the_stream_adds_its_accepted_spread_which_survives_a_resume(tmp_path: Path) -> None:
    events = market_bars(200)
    at = len(events) // 3
    basket = SPREADS[1]
    events.insert(at, verdict("rescan", events[at].ts, basket, accepted=True, rank=1))
    events.insert(at, verdict("rescan", events[at].ts, ("ETH", "UNI"), accepted=False, rank=2))
    items = [(getattr(e, "coin", None) or e.pair, [e]) for e in events]
    flowed = run_flow(items, spreads=SPREADS[:1])
    assert {s.pair for s in flowed} == {"ETH/SOL", "AAVE/UNI/LINK"}  # the rejected one is not traded
    added = [s for s in flowed if s.pair == "AAVE/UNI/LINK"]
    assert added and added == by_hand([e for e in events[at + 2:]], [basket])
    # Killed after the rescan and resumed: the router still knows the added spread.
    cut = at + 40
    aborting = [*items[:cut], TestingSource.ABORT(), *items[cut:]]
    runs = [run_flow(aborting, spreads=SPREADS[:1], recovery=tmp_path / "recovery") for _ in range(2)]
    resumed = {s.id: s for run in runs for s in run}
    assert ordered(list(resumed.values())) == ordered(flowed)


def test_a_batch_grouped_by_coin_is_routed_in_event_time_around_a_rescan() -> None:
    bars = cointegrated_bars(("ETH", "SOL", "AVAX"), 160, seed=33)
    rescan = verdict("rescan", bars[len(bars) // 3].ts + 1, ("ETH", "AVAX"), accepted=True, rank=1)
    # One batch, grouped by key the way the topic decoder groups it: every bar of a coin, then the rescan.
    grouped = [(coin, [b for b in bars if b.coin == coin]) for coin in ("ETH", "SOL", "AVAX")] + [(rescan.pair, [rescan])]
    flowed = run_flow(grouped, spreads=SPREADS[:1])
    assert [s for s in flowed if s.pair == "ETH/SOL"] == by_hand(bars, SPREADS[:1])
    after = [b for b in bars if b.ts > rescan.ts]
    assert [s for s in flowed if s.pair == "ETH/AVAX"] == by_hand(after, [("ETH", "AVAX")])


def test_a_rescan_on_the_stream_re_admits_a_spread_adwin_retired() -> None:
    calm = cointegrated_bars(SPREADS[0], 400, seed=8)
    # The relation breaks: SOL wanders off on its own for many rows, and ADWIN retires the spread.
    broken = [b if b.coin == "ETH" else bar("SOL", b.ts, b.close) for b in cointegrated_bars(
        ("ETH", "XXX"), 500, seed=9, start_ms=calm[-1].ts + 60_000, spread_std=0.05)]
    again = cointegrated_bars(SPREADS[0], 300, seed=8, start_ms=broken[-1].ts + 60_000)
    rescan = verdict("rescan", broken[-1].ts + 1, SPREADS[0], accepted=True, rank=1)
    without = run_flow(keyed(calm + broken + again), spreads=SPREADS[:1])
    reasons = [s.reason for s in without]
    assert "retired" in reasons and not any(r.startswith("entry") for r in reasons[reasons.index("retired"):])
    flowed = run_flow(keyed(calm + broken) + [(rescan.pair, [rescan])] + keyed(again), spreads=SPREADS[:1])
    assert any(s.reason.startswith("entry") and s.ts > rescan.ts for s in flowed)


def test_the_universe_is_the_newest_scans_accepted_spreads_else_the_configured_pairs(store: Store) -> None:
    configured = StrategySettings(pairs=["BTC/ETH"])
    assert universe_pairs(configured, store) == ["BTC/ETH"]
    with BatchWriter(store, "pair_stats", background=False) as writer:
        writer.add_many([
            verdict("old", 1_000, ("ETH", "SOL"), True, 1),
            verdict("new", 2_000, ("UNI", "AAVE"), True, 2),
            verdict("new", 2_000, ("AAVE", "UNI", "LINK"), True, 1),
            verdict("new", 2_000, ("ETH", "AVAX"), False, 3),
        ])
    assert universe_pairs(configured, store) == ["AAVE/UNI/LINK", "UNI/AAVE"]
    assert universe_pairs(configured.model_copy(update={"universe": "config"}), store) == ["BTC/ETH"]


def test_two_workers_split_the_spreads_and_give_the_same_signals() -> None:
    items = keyed(market_bars(100))
    flow = Dataflow("strategy_two_workers")
    captured: list = []
    # One worker reads the input; keyed state sends every spread to the worker that owns it.
    stream = op.input("bars", flow, TestingSource(items, batch_size=50))
    op.output("out", strategy_stage("strategy", stream, SPREADS, SETTINGS), TestingSink(captured))
    cluster_main(flow, [], 0, worker_count_per_proc=2)
    two = [signal for _, batch in captured for signal in batch]
    assert two and ordered(two) == ordered(run_flow(items))


def test_a_parameter_change_from_the_controls_retunes_the_running_spreads() -> None:
    banded = StrategySettings(warmup_rows=30, zscore_window=30, heartbeat_rows=25, entry_z=1.0, exit_z=0.25)
    items = keyed(sorted(cointegrated_bars(("ETH", "SOL"), 400, seed=5), key=lambda b: b.ts))
    change_at = len(items) // 3
    later = items[change_at + 40][1][0].ts  # well after the change reached the stage, whatever the batching

    def run(change: dict[str, float] | None) -> tuple[list[Signal], Control]:
        control = Control()

        def source() -> Iterator[tuple[str, list[Bar]]]:
            for index, item in enumerate(items):
                if index == change_at and change:
                    control.retune(change)  # what POST /api/controls/params does, from the API's thread
                yield item

        captured: list = []
        flow = Dataflow("strategy_retune")
        stream = op.input("bars", flow, TestingSource(source(), batch_size=10))
        op.output("out", strategy_stage("strategy", stream, [("ETH", "SOL")], banded, control=control), TestingSink(captured))
        run_main(flow, epoch_interval=timedelta(0))
        return [signal for _, batch in captured for signal in batch], control

    def entries(signals: list[Signal], after: int) -> list[Signal]:
        return [s for s in signals if s.reason.startswith("entry") and s.ts > after]

    untouched, _ = run(None)
    retuned, control = run({"entry_z": 19.0, "stop_z": 40.0})
    assert entries(untouched, 0) and entries(untouched, later), "the data must trade on both sides of the change"
    assert control.tuning().version == 1
    assert entries(retuned, 0) and not entries(retuned, later)
    # The spread ran on without a restart: heartbeats (and an exit of what was open) after the change.
    assert {s.reason for s in retuned if s.ts > later} and {s.reason for s in retuned if s.ts > later} <= {"hold", "exit"}


def context(coin: str, ts: int) -> AssetContext:
    return AssetContext(id=f"{coin}:{ts}", ts=ts, recv_ts=ts, coin=coin, mark_px=1.0, oracle_px=1.0, mid_px=1.0,
                        open_interest=1.0, funding=0.0, premium=0.0, day_ntl_vlm=1.0, prev_day_px=1.0)


def test_a_spread_with_a_coin_the_collector_does_not_collect_is_refused_once() -> None:
    """A top-N collector's coins are known at run time only: from the asset contexts it sends."""
    bars = cointegrated_bars(SPREADS[0], 160, seed=21)
    polls = [context(coin, bar.ts + 1) for bar in bars[::2] for coin in ("ETH", "SOL")]  # a poll a minute
    unknown = STRATEGY_REFUSED_SPREADS.labels(reason="unknown-coin")._value.get()
    flowed = run_flow(keyed(sorted(bars + polls, key=lambda e: e.ts)), spreads=[SPREADS[0], ("ETH", "XYZ")])
    assert STRATEGY_REFUSED_SPREADS.labels(reason="unknown-coin")._value.get() == unknown + 1  # once, by name
    assert {s.pair for s in flowed} == {"ETH/SOL"} and flowed == by_hand(bars, SPREADS[:1])


def test_a_refused_spread_is_counted_once_across_a_resume(tmp_path: Path) -> None:
    """The router's snapshot keeps what it refused: a resumed run neither routes nor counts it again."""
    bars = cointegrated_bars(SPREADS[0], 120, seed=21)
    polls = [context(coin, bar.ts + 1) for bar in bars[::2] for coin in ("ETH", "SOL")]  # a poll a minute
    items = keyed(sorted(bars + polls, key=lambda e: e.ts))
    unknown = STRATEGY_REFUSED_SPREADS.labels(reason="unknown-coin")._value.get()
    cut = len(items) // 2  # after the refusal (the second poll), with polls still to come
    aborting = [*items[:cut], TestingSource.ABORT(), *items[cut:]]
    runs = [run_flow(aborting, spreads=[SPREADS[0], ("ETH", "XYZ")], recovery=tmp_path / "recovery") for _ in range(2)]
    assert STRATEGY_REFUSED_SPREADS.labels(reason="unknown-coin")._value.get() == unknown + 1
    resumed = {s.id: s for run in runs for s in run}
    assert ordered(list(resumed.values())) == ordered(by_hand(bars, SPREADS[:1]))


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=11), max_size=4), resume_at=st.integers(0, 4))
@example(cuts=[3], resume_at=1)  # resumed after the delisting: the snapshot must keep it (it once did not)
def test_however_the_polls_are_batched_or_resumed_the_unknown_spread_is_refused_once(
    cuts: list[int], resume_at: int
) -> None:
    events = [context(coin, ts) for ts in (1_000, 2_000, 3_000) for coin in ("SOL", "ETH", "BTC")]
    events.insert(4, bar("ETH", 1_500, 2_000.0))
    # AVAX is delisted in the first poll (so it has no context): its spread retires as delisted, not as unknown.
    events.insert(2, Delisting(id="AVAX:1000", ts=1_000, recv_ts=1_000, coin="AVAX"))
    spreads = [("ETH", "SOL"), ("ETH", "XYZ"), ("SOL", "AVAX")]
    router = _FanOut(spreads)
    unknown = STRATEGY_REFUSED_SPREADS.labels(reason="unknown-coin")._value.get()
    bounds = [0, *sorted(cuts), len(events)]
    for number, (start, end) in enumerate(zip(bounds, bounds[1:])):
        if number == resume_at:  # killed here: a new router resumes from the pickled snapshot
            router = _FanOut(spreads, pickle.loads(pickle.dumps(router.snapshot())))
        router(keyed(events[start:end]))
    assert router.all == ["ETH/SOL", "SOL/AVAX"]
    assert router.by_coin == {"ETH": ["ETH/SOL"], "SOL": ["ETH/SOL", "SOL/AVAX"], "XYZ": [], "AVAX": ["SOL/AVAX"]}
    assert STRATEGY_REFUSED_SPREADS.labels(reason="unknown-coin")._value.get() == unknown + 1


def test_a_refused_spread_rejoins_once_contexts_name_all_its_coins_and_silence_removes_none() -> None:
    """A top-N collector restarted with other coins lets a refused spread trade; a quiet coin is not judged."""
    router = _FanOut([("ETH", "SOL"), ("ETH", "XYZ")])
    unknown = STRATEGY_REFUSED_SPREADS.labels(reason="unknown-coin")._value.get()
    seen = []
    for number, coins in enumerate(["ETH SOL", "ETH SOL", "ETH", "ETH SOL XYZ", "ETH", "ETH"]):
        router(keyed([context(coin, 1_000 * (number + 1)) for coin in coins.split()]))
        seen.append(tuple(router.all))
    both, solo = ("ETH/SOL", "ETH/XYZ"), ("ETH/SOL",)
    # Judged when the second poll begins: XYZ was never named. SOL missing from a poll moves nothing; XYZ named:
    # back; SOL and XYZ silent afterwards: still routed.
    assert seen == [both, solo, solo, both, both, both]
    assert STRATEGY_REFUSED_SPREADS.labels(reason="unknown-coin")._value.get() == unknown + 1
    assert router.by_coin == {"ETH": ["ETH/SOL", "ETH/XYZ"], "SOL": ["ETH/SOL"], "XYZ": ["ETH/XYZ"]}
    # A rescan's spread after that: refused at once if a coin was never named, else routed.
    rescanned = [verdict("rescan", 7_000, legs, accepted=True, rank=1) for legs in (("SOL", "DOGE"), ("SOL", "XYZ"))]
    router([(stats.pair, [stats]) for stats in rescanned])
    assert router.all == ["ETH/SOL", "ETH/XYZ", "SOL/XYZ"] and list(router.refused) == ["SOL/DOGE"]
    assert STRATEGY_REFUSED_SPREADS.labels(reason="unknown-coin")._value.get() == unknown + 2
