"""Properties of the synthetic fair-value model: cointegration, independence, determinism."""

from __future__ import annotations

import math
import pickle

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from venue.market.factor_model import CointegrationGroup, FactorModel, FactorModelConfig, ou_step

STEP_MS = 60_000
STEPS = 12_000


def estimated_half_life_s(series: np.ndarray, dt_s: float) -> float:
    """Fit ``Δx_t = a + b x_{t-1}`` by OLS and return ``ln 2 / -ln(1 + b)`` (inf when b >= 0)."""
    lagged, delta = series[:-1], np.diff(series)
    design = np.column_stack([np.ones_like(lagged), lagged])
    (_, slope), *_ = np.linalg.lstsq(design, delta, rcond=None)
    if slope >= 0:
        return math.inf
    return math.log(2.0) / -math.log1p(slope) * dt_s


def simulate(config: FactorModelConfig, seed: int, steps: int = STEPS) -> dict[str, np.ndarray]:
    model = FactorModel(config, seed=seed)
    paths = {coin: np.empty(steps) for coin in config.reference_px}
    for index in range(steps):
        for coin, px in model.step(STEP_MS).items():
            paths[coin][index] = math.log(px)
    return paths


@settings(max_examples=8, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    half_life_min=st.sampled_from([15.0, 30.0, 60.0]),
    betas=st.tuples(st.floats(0.5, 2.0), st.floats(0.5, 2.0)),
)
def test_cointegrated_pair_spread_reverts_with_configured_half_life(seed, half_life_min, betas):
    group = CointegrationGroup(("A", "B"), betas, half_life_s=half_life_min * 60, spread_std=0.004)
    config = FactorModelConfig({"A": 100.0, "B": 3.0, "C": 50.0}, groups=(group,))
    paths = simulate(config, seed)
    spread = paths["A"] - betas[0] / betas[1] * paths["B"]
    estimate = estimated_half_life_s(spread, STEP_MS / 1000)
    assert abs(estimate / group.half_life_s - 1.0) < 0.35


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1))
def test_independent_coins_are_not_mean_reverting(seed):
    group = CointegrationGroup(("A", "B"), half_life_s=1800.0)
    config = FactorModelConfig({"A": 100.0, "B": 3.0, "C": 50.0, "D": 7.0}, groups=(group,))
    paths = simulate(config, seed)
    for first, second in (("C", "D"), ("A", "C")):
        estimate = estimated_half_life_s(paths[first] - paths[second], STEP_MS / 1000)
        assert estimate > 10 * group.half_life_s


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), steps=st.lists(st.integers(0, 5_000), min_size=1, max_size=30))
def test_same_seed_and_steps_give_the_same_path(seed, steps):
    config = FactorModelConfig({"A": 10.0, "B": 20.0, "C": 1.0}, groups=(CointegrationGroup(("A", "B")),))
    first, second = FactorModel(config, seed=seed), FactorModel(config, seed=seed)
    assert [first.step(dt) for dt in steps] == [second.step(dt) for dt in steps]
    assert first.premia == second.premia


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), before=st.integers(1, 20), after=st.integers(1, 20))
def test_model_resumes_identically_after_pickling(seed, before, after):
    config = FactorModelConfig({"A": 10.0, "B": 20.0}, groups=(CointegrationGroup(("A", "B")),))
    original = FactorModel(config, seed=seed)
    for _ in range(before):
        original.step(250)
    restored = pickle.loads(pickle.dumps(original))
    assert [original.step(250) for _ in range(after)] == [restored.step(250) for _ in range(after)]


@settings(max_examples=50)
@given(
    value=st.floats(-1.0, 1.0),
    dt_s=st.floats(0.001, 1e5),
    half_life_s=st.floats(1.0, 1e5),
)
def test_ou_step_without_shock_decays_by_half_each_half_life(value, dt_s, half_life_s):
    expected = value * 0.5 ** (dt_s / half_life_s)
    assert math.isclose(ou_step(value, dt_s, half_life_s, 0.01, 0.0), expected, rel_tol=1e-9, abs_tol=1e-15)


def test_stationary_std_of_ou_matches_configuration():
    rng = np.random.default_rng(11)
    value, samples = 0.0, []
    for shock in rng.standard_normal(40_000):
        value = ou_step(value, 60.0, 600.0, 0.02, float(shock))
        samples.append(value)
    assert abs(np.std(samples) / 0.02 - 1.0) < 0.1
