"""Online ML operators: learn-after-label, conformance, determinism, recovery round trips."""

from __future__ import annotations

import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.anomaly_gate import AnomalyGate
from operators.check import check_operator
from operators.meta_label import LabelEntry, LabelMark, MetaLabeler
from operators.relation_break import RelationBreak
from operators.threshold_bandit import ArmReward, ThresholdBandit

FEATURES = {"z": -2.2, "vol": 0.01, "funding": 0.0}


def entry(ts: int = 0, direction: int = 1, spread: float = 0.0, features: dict | None = None) -> LabelEntry:
    return LabelEntry(ts=ts, direction=direction, spread=spread, scale=0.01, cost=0.002, features=features or FEATURES)


def random_features(rng: random.Random) -> dict[str, float]:
    return {"z": rng.gauss(0, 2), "vol": abs(rng.gauss(0.01, 0.002)), "funding": rng.gauss(0, 1e-5)}


def test_meta_labeler_learns_nothing_until_the_barrier_resolves() -> None:
    meta = MetaLabeler(profit_take=2.0, stop=2.0, max_hold_ms=60_000, warmup=0)
    before = meta.probability(FEATURES)
    meta.open(entry())
    # Inside both barriers (net = 0.01 - 0.002 < 0.02 and > -0.02) and before the time limit.
    for ts, spread in ((1_000, 0.005), (2_000, 0.01), (30_000, -0.01)):
        assert meta.update(LabelMark(ts=ts, spread=spread)) == []
        assert meta.labels_learned == 0
        assert meta.probability(FEATURES) == before
    (outcome,) = meta.update(LabelMark(ts=31_000, spread=0.0221))
    assert (outcome.barrier, outcome.label, outcome.entry_ts, outcome.exit_ts) == ("profit", True, 0, 31_000)
    assert outcome.net == pytest.approx(0.0201)
    assert meta.labels_learned == 1 and meta.pending == []
    assert meta.probability(FEATURES) > before


def test_meta_labeler_barriers_are_net_of_costs_and_funding() -> None:
    meta = MetaLabeler(profit_take=1.0, stop=1.0, max_hold_ms=10 * 3_600_000)
    # Short spread: gains when the spread falls. Gross +0.011 would clear the 0.01 barrier,
    # but 0.002 of costs leave 0.009.
    meta.open(entry(direction=-1, spread=0.05))
    assert meta.update(LabelMark(ts=3_600_000, spread=0.039)) == []
    # Funding: a long spread pays -0.001/h, so the short pays +0.001 over the next hour.
    (stop,) = meta.update(LabelMark(ts=7_200_000, spread=0.058, funding_per_hour=-0.001))
    assert stop.barrier == "stop" and stop.label is False
    assert stop.net == pytest.approx(-0.008 - 0.002 - 0.001)


def test_meta_labeler_time_barrier_labels_by_the_sign_of_the_net_return() -> None:
    meta = MetaLabeler(profit_take=5.0, stop=5.0, max_hold_ms=10_000)
    meta.open(entry(ts=0))
    meta.open(entry(ts=5_000, spread=0.01))
    (first,) = meta.update(LabelMark(ts=10_000, spread=0.003))
    assert (first.barrier, first.label, first.net) == ("time", True, pytest.approx(0.001))
    (second,) = meta.update(LabelMark(ts=15_000, spread=0.011))
    assert (second.barrier, second.label, second.net) == ("time", False, pytest.approx(-0.001))


def test_a_mark_at_the_entry_time_does_not_resolve_it() -> None:
    meta = MetaLabeler(profit_take=0.1, stop=0.1, max_hold_ms=1)
    meta.open(entry(ts=1_000))
    assert meta.update(LabelMark(ts=1_000, spread=1.0)) == []
    assert meta.update(LabelMark(ts=999, spread=1.0)) == []
    assert len(meta.update(LabelMark(ts=1_001, spread=1.0))) == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(-0.05, 0.05)), min_size=1, max_size=60))
def test_meta_labeler_learns_exactly_once_per_resolved_entry(steps: list[tuple[bool, float]]) -> None:
    meta = MetaLabeler(profit_take=1.0, stop=1.0, max_hold_ms=5_000)
    opened, resolved = 0, []
    for index, (is_entry, spread) in enumerate(steps):
        ts = index * 1_000
        resolved += meta.update(LabelMark(ts=ts, spread=spread))
        assert meta.labels_learned == len(resolved)
        assert all(o.exit_ts > o.entry_ts for o in resolved)
        if is_entry:
            meta.open(entry(ts=ts, spread=spread, direction=1 if index % 2 else -1))
            opened += 1
    assert len(resolved) + len(meta.pending) == opened


def meta_events(rng: random.Random) -> list[LabelMark]:
    return [LabelMark(ts=i * 1_000, spread=rng.gauss(0, 0.01), funding_per_hour=1e-5) for i in range(1, 120)]


def test_meta_labeler_passes_the_operator_battery() -> None:
    rng = random.Random(5)
    meta = MetaLabeler(profit_take=0.5, stop=0.5, max_hold_ms=20_000, warmup=0)
    for i in range(30):
        meta.open(entry(ts=i * 100, direction=1 if i % 2 else -1, features=random_features(rng)))
    check_operator(meta, meta_events(rng))


def test_meta_labeler_restored_from_a_snapshot_predicts_like_the_original() -> None:
    rng = random.Random(9)
    meta = MetaLabeler(profit_take=0.5, stop=0.5, max_hold_ms=20_000)
    for i in range(40):
        meta.open(entry(ts=i * 10, direction=1 if i % 3 else -1, features=random_features(rng)))
    for mark in meta_events(rng)[:60]:
        meta.update(mark)
    copy = MetaLabeler.restore(pickle.loads(pickle.dumps(meta.snapshot())))
    probe = random_features(rng)
    assert copy.probability(probe) == meta.probability(probe)
    assert copy.labels_learned == meta.labels_learned > 0


def test_anomaly_gate_scores_a_tick_before_learning_it() -> None:
    rng = random.Random(2)
    gate = AnomalyGate(window_size=40, seed=3)
    ticks = [random_features(rng) for _ in range(200)]
    for tick in ticks[:150]:
        gate.update(tick)
    for tick in ticks[150:]:
        fresh = AnomalyGate.restore(gate.snapshot())
        # Scoring the tick alone (no learning) must give the score update() reports.
        cube = {k: min(max((v + 4.0) / 8.0, 0.0), 1.0) for k, v in fresh.scaler.transform_one(tick).items()}
        assert gate.update(tick)[0].score == fresh.trees.score_one(cube)


def test_anomaly_gate_stays_open_during_warmup_and_flags_outliers_after() -> None:
    gate = AnomalyGate(window_size=50, threshold=0.85, seed=1)
    rng = random.Random(4)
    warm = [gate.update({"z": rng.gauss(0, 1), "vol": rng.gauss(0, 1)})[0] for _ in range(50)]
    assert not any(reading.anomalous for reading in warm)
    normal = [gate.update({"z": rng.gauss(0, 1), "vol": rng.gauss(0, 1)})[0] for _ in range(300)]
    assert sum(reading.anomalous for reading in normal) <= 3
    assert gate.update({"z": 9.0, "vol": 9.0})[0].anomalous
    assert gate.version == "hst:351"


def test_anomaly_gate_passes_the_operator_battery() -> None:
    rng = random.Random(6)
    check_operator(AnomalyGate(window_size=20, seed=2), [random_features(rng) for _ in range(80)])


def test_relation_break_retires_only_on_a_lasting_rise_and_readmits() -> None:
    rng = random.Random(8)
    watch = RelationBreak()
    # A single wild print is clipped and does not retire the spread.
    assert watch.update(1e6) == [] and watch.update(float("nan")) == []
    assert all(watch.update(rng.gauss(0, 1)) == [] for _ in range(3_000))
    breaks = [b for _ in range(400) for b in watch.update(rng.gauss(0, 3))]
    assert len(breaks) == 1 and breaks[0].level >= 4.0 * breaks[0].baseline and watch.retired
    assert watch.update(rng.gauss(0, 3)) == []
    watch.readmit()
    assert not watch.retired and watch.version == "adwin:1"


def test_relation_break_ignores_errors_that_shrink() -> None:
    rng = random.Random(1)
    watch = RelationBreak()
    for _ in range(1_000):
        watch.update(rng.gauss(0, 1))
    assert all(watch.update(rng.gauss(0, 0.1)) == [] for _ in range(1_000))
    assert not watch.retired


def test_relation_break_passes_the_operator_battery() -> None:
    rng = random.Random(3)
    check_operator(RelationBreak(), [rng.gauss(0, 1 if i < 300 else 5) for i in range(600)])


def play(policy: ThresholdBandit, means: list[float], rounds: int, seed: int) -> list[tuple[int, float]]:
    """Run the bandit against arms with Gaussian rewards; return the (arm, reward) history."""
    rng = random.Random(seed)
    history, arm = [], policy.pull()
    for _ in range(rounds):
        reward = rng.gauss(means[arm], 1.0)
        history.append((arm, reward))
        (arm,) = policy.update(ArmReward(arm, reward))
    return history


@pytest.mark.parametrize("kind", ["ucb", "epsilon"])
def test_bandit_replay_of_a_recorded_history_makes_the_same_choices(kind: str) -> None:
    grid = ((1.5, 0.0), (2.0, 0.5), (2.5, 0.5), (3.0, 1.0))
    recorded = play(ThresholdBandit(grid, policy=kind, exploration=0.3 if kind == "epsilon" else 1.0, seed=11),
                    [-0.2, 0.1, 0.8, 0.0], 400, seed=4)
    replayed = ThresholdBandit(grid, policy=kind, exploration=0.3 if kind == "epsilon" else 1.0, seed=11)
    arm = replayed.pull()
    for recorded_arm, reward in recorded:
        assert arm == recorded_arm
        (arm,) = replayed.update(ArmReward(recorded_arm, reward))
    # The arm with the best mean net PnL is the one played most.
    counts = [sum(1 for a, _ in recorded if a == index) for index in range(len(grid))]
    assert counts.index(max(counts)) == 2 and counts[2] > 0.5 * len(recorded)


def test_bandit_rejects_bad_grids_and_arms() -> None:
    with pytest.raises(ValueError, match="entry > exit"):
        ThresholdBandit(((1.0, 1.5),))
    with pytest.raises(ValueError, match="policy must be"):
        ThresholdBandit(policy="softmax")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"arm must lie in \[0, 5\), received 7"):
        ThresholdBandit().update(ArmReward(7, 1.0))


def test_bandit_passes_the_operator_battery() -> None:
    rng = random.Random(12)
    check_operator(ThresholdBandit(seed=3), [ArmReward(rng.randrange(5), rng.gauss(0, 1)) for _ in range(60)])
