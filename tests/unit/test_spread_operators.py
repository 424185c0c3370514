"""Correlation, z-score and Kalman hedge operators against independent numpy references."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from operators.check import check_operator
from operators.correlation import Correlation
from operators.kalman import KalmanHedge
from operators.moments import alpha_from_halflife
from operators.zscore import ZScore


def correlated_prices(n: int, seed: int = 1, level: float = 1e5) -> tuple[np.ndarray, np.ndarray]:
    """Prices near ``level`` with moves a millionth of it: hard for sum-of-squares formulas."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(n)
    x = level + 0.1 * np.cumsum(common + 0.5 * rng.standard_normal(n))
    y = level + 0.1 * np.cumsum(common + 0.5 * rng.standard_normal(n))
    return x, y


def ewma_weights(t: int, alpha: float) -> np.ndarray:
    weights = alpha * (1 - alpha) ** np.arange(t, -1, -1, dtype=float)
    weights[0] = (1 - alpha) ** t
    return weights


def test_rolling_correlation_equals_numpy_on_every_window() -> None:
    x, y = correlated_prices(3_000)
    window = 50
    corr = Correlation(window=window)
    out = [v for t in range(len(x)) for v in corr.update((t, float(x[t]), float(y[t])))]
    assert len(out) == len(x) - window + 1
    for value in out:
        t = value.ts
        expected = np.corrcoef(x[t - window + 1 : t + 1], y[t - window + 1 : t + 1])[0, 1]
        assert abs(value.correlation - expected) < 1e-9


def test_ewma_correlation_equals_explicitly_weighted_numpy() -> None:
    x, y = correlated_prices(800, seed=2)
    alpha = alpha_from_halflife(30.0)
    corr = Correlation(halflife=30.0, min_count=5)
    out = {v.ts: v.correlation for t in range(len(x)) for v in corr.update((t, float(x[t]), float(y[t])))}
    assert min(out) == 4
    for t in (4, 100, 799):
        w = ewma_weights(t, alpha)
        xs, ys = x[: t + 1], y[: t + 1]
        mx, my = w @ xs, w @ ys
        cov = w @ ((xs - mx) * (ys - my))
        expected = cov / math.sqrt((w @ (xs - mx) ** 2) * (w @ (ys - my) ** 2))
        assert abs(out[t] - expected) < 1e-9


@pytest.mark.parametrize("kwargs", [{"window": 20}, {"halflife": 10.0}])
def test_zscore_equals_numpy(kwargs: dict) -> None:
    rng = np.random.default_rng(4)
    values = 1e4 + np.cumsum(rng.standard_normal(300)) * 1e-3
    z = ZScore(min_count=3, **kwargs)
    out = [v for t, value in enumerate(values) for v in z.update((t, float(value)))]
    last = out[-1]
    if "window" in kwargs:
        window = values[-20:]
        mean, std = window.mean(), window.std()
    else:
        w = ewma_weights(len(values) - 1, alpha_from_halflife(10.0))
        mean = w @ values
        std = math.sqrt(w @ (values - mean) ** 2)
    assert last.mean == pytest.approx(mean, abs=1e-9)
    assert last.std == pytest.approx(std, rel=1e-7)
    assert last.zscore == pytest.approx((values[-1] - mean) / std, rel=1e-6)


def kalman_reference(prices: np.ndarray, delta: float, ve: float, p0: float) -> tuple[np.ndarray, ...]:
    """The textbook matrix recursion, written independently of the operator."""
    legs = prices.shape[1]
    theta = np.zeros(legs)
    p = np.eye(legs) * p0
    vw = delta / (1 - delta) * np.eye(legs)
    thetas, errors, variances = [], [], []
    for row in prices:
        f = np.append(row[1:], 1.0).reshape(1, -1)
        r = p + vw
        q = (f @ r @ f.T).item() + ve
        e = row[0] - (f @ theta).item()
        k = (r @ f.T / q).ravel()
        theta = theta + k * e
        p = r - np.outer(k, f @ r)
        thetas.append(theta.copy())
        errors.append(e)
        variances.append(q)
    return np.array(thetas), np.array(errors), np.array(variances)


def drifting_spread(n: int, legs: int, seed: int = 5) -> np.ndarray:
    """Log prices whose first leg follows the others with slowly drifting ratios."""
    rng = np.random.default_rng(seed)
    xs = np.cumsum(rng.standard_normal((n, legs - 1)) * 0.01, axis=0) + 4.0
    ratios = 0.8 + np.cumsum(rng.standard_normal((n, legs - 1)) * 1e-3, axis=0)
    y = (xs * ratios).sum(axis=1) + 0.3 + rng.standard_normal(n) * 0.002
    return np.column_stack([y, xs])


@pytest.mark.parametrize("legs", [2, 3])
def test_kalman_equals_the_matrix_reference(legs: int) -> None:
    prices = drifting_spread(1_000, legs)
    kf = KalmanHedge(legs=legs, delta=1e-4, observation_variance=1e-4, initial_variance=1.0)
    out = [v for t, row in enumerate(prices) for v in kf.update((t, tuple(map(float, row))))]
    thetas, errors, variances = kalman_reference(prices, 1e-4, 1e-4, 1.0)
    got = np.array([(*v.hedge_ratios, v.intercept) for v in out])
    np.testing.assert_allclose(got, thetas, rtol=0, atol=1e-9)
    np.testing.assert_allclose([v.error for v in out], errors, rtol=0, atol=1e-9)
    np.testing.assert_allclose([v.error_variance for v in out], variances, rtol=1e-9)
    spreads = prices[:, 0] - (prices[:, 1:] * thetas[:, :-1]).sum(axis=1) - thetas[:, -1]
    np.testing.assert_allclose([v.spread for v in out], spreads, rtol=0, atol=1e-9)


def test_kalman_without_transition_noise_is_regularised_least_squares() -> None:
    # With Vw -> 0 the filter is recursive least squares with prior N(0, p0 I):
    # theta_T = (I/p0 + F'F/Ve)^-1 F'y/Ve, the hand-derived closed form.
    prices = drifting_spread(400, 2, seed=9)
    p0, ve = 10.0, 1e-4
    kf = KalmanHedge(legs=2, delta=1e-15, observation_variance=ve, initial_variance=p0)
    for t, row in enumerate(prices):
        (last,) = kf.update((t, (float(row[0]), float(row[1]))))
    f = np.column_stack([prices[:, 1], np.ones(len(prices))])
    closed = np.linalg.solve(np.eye(2) / p0 + f.T @ f / ve, f.T @ prices[:, 0] / ve)
    # The covariance-form update loses ~cond(F'F) * eps, hence 1e-5 rather than 1e-9.
    np.testing.assert_allclose((last.hedge_ratios[0], last.intercept), closed, rtol=1e-5)


@pytest.mark.parametrize(
    ("operator", "events", "bad"),
    [
        (Correlation(window=5), [(t, float(t % 3), float(t % 4)) for t in range(20)], (20, float("nan"), 1.0)),
        (ZScore(window=5), [(t, float(t % 3)) for t in range(20)], (20, float("inf"))),
        (KalmanHedge(), [(t, (2.0 + t % 3, 1.0 + t % 5)) for t in range(20)], (20, (float("nan"), 1.0))),
        (KalmanHedge(legs=3), [(t, (2.0 + t % 3, 1.0 + t % 5, 1.5)) for t in range(20)], (20, (1.0, 1.0))),
    ],
    ids=["correlation", "zscore", "kalman-pair", "kalman-basket"],
)
def test_conformance_and_bad_input_leaves_state_alone(operator, events, bad) -> None:
    check_operator(operator, events)
    clean = pickle.loads(pickle.dumps(operator))
    for event in events[:10]:
        operator.update(event)
        clean.update(event)
    assert operator.update(bad) == [] and operator.last_reason
    assert operator.update(events[5]) == [] and "out-of-order" in operator.last_reason
    assert [operator.update(e) for e in events[10:]] == [clean.update(e) for e in events[10:]]


def test_rejects_are_counted_by_kind() -> None:
    corr = Correlation(window=3)
    corr.update((1, 1.0, 1.0))
    corr.update((2, float("nan"), 1.0))
    corr.update((1, 2.0, 2.0))
    assert corr.rejects == {"invalid": 1, "out-of-order": 1}


def test_flat_input_gives_no_correlation() -> None:
    corr = Correlation(window=3)
    outs = [corr.update((t, 1.0, float(t))) for t in range(4)]
    assert outs[-1] == [] and corr.rejects == {"flat": 2}
