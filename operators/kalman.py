"""Kalman-filtered hedge ratios of a spread of N legs.

The first leg is explained by the others: ``y = b1*x1 + ... + bk*xk + a + noise``.
The state ``(b1..bk, a)`` follows a random walk, the usual "dynamic hedge
ratio" model (e.g. E. Chan, *Algorithmic Trading*, ch. 3):

* transition noise ``Vw = delta / (1 - delta) * I``; ``delta`` near 0 means
  slowly moving ratios, near 1 that they follow the price;
* observation noise ``Ve``;
* per event: ``R = P + Vw``, forecast ``yhat = F.theta`` with ``F = (x, 1)``,
  forecast error ``e = y - yhat`` with variance ``Q = F R F' + Ve``, gain
  ``K = R F' / Q``, then ``theta += K e`` and ``P = R - K F R``.

``e`` and ``Q`` are the classic trading signal (bands at ``±k*sqrt(Q)``).
For a pair (N = 2) the update is written out in scalar arithmetic -- numpy's
per-call overhead would dominate a 2x2 update; more legs use numpy (the state is kept as plain lists so snapshots compare by value).
Feed prices or log prices (the operator only needs finite numbers; the
aligner upstream rejects non-positive prices).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from operators.guard import Guarded, finite_problem

__all__ = ["HedgeEstimate", "KalmanHedge"]

_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__ (per-event path)


class HedgeEstimate(NamedTuple):
    """Posterior hedge ratios and the forecast error of one observation.

    ``spread`` is ``y - sum(b_i * x_i) - a`` with the updated state;
    ``error`` and ``error_variance`` are the prior forecast error ``e`` and
    its variance ``Q``.
    """

    ts: int
    hedge_ratios: tuple[float, ...]
    intercept: float
    spread: float
    error: float
    error_variance: float


class KalmanHedge(Guarded):
    """Track the hedge ratios of ``legs`` prices with a Kalman filter.

    Input is ``(ts, prices)`` -- e.g. `operators.align.Aligned` -- with
    ``prices[0]`` the leg explained by the others and ``ts`` strictly
    increasing. A non-finite price, a wrong number of legs or an old ``ts``
    is rejected without touching the state.

    Parameters
    ----------
    legs
        Number of legs N (2 for a pair).
    delta
        Transition noise scale: ``Vw = delta / (1 - delta) * I``.
    observation_variance
        ``Ve``, the variance of the observation noise.
    initial_variance
        Diagonal of the initial state covariance ``P`` (state starts at 0).

    Examples
    --------
    >>> kf = KalmanHedge(legs=2, delta=1e-4, observation_variance=1e-3)
    >>> import math
    >>> for ts in range(300):
    ...     x = 1.0 + math.sin(ts / 5)
    ...     out = kf.update((ts, (2.0 * x + 1.0, x)))
    >>> round(out[0].hedge_ratios[0], 2), round(out[0].intercept, 2), abs(out[0].error) < 1e-2
    (2.0, 1.0, True)
    """

    def __init__(
        self,
        legs: int = 2,
        delta: float = 1e-4,
        observation_variance: float = 1e-3,
        initial_variance: float = 1.0,
    ) -> None:
        if legs < 2:
            raise ValueError(f"a spread needs at least 2 legs, received {legs}")
        if not 0.0 < delta < 1.0:
            raise ValueError(f"delta must be in (0, 1), received {delta}")
        if observation_variance <= 0 or initial_variance < 0:
            raise ValueError("observation_variance must be positive and initial_variance not negative")
        self._init_guard()
        self.legs = legs
        self.delta = delta
        self.observation_variance = observation_variance
        self._vw = delta / (1.0 - delta)
        self._pair = legs == 2
        if self._pair:
            # (b, a, P00, P01, P11): hedge ratio, intercept and the symmetric state covariance
            self._state = (0.0, 0.0, initial_variance, 0.0, initial_variance)
        else:
            self._theta = [0.0] * legs
            self._cov = (np.eye(legs) * initial_variance).tolist()

    @property
    def state(self) -> tuple[tuple[float, ...], float]:
        """Return the current hedge ratios and intercept."""
        if self._pair:
            return (self._state[0],), self._state[1]
        return tuple(self._theta[:-1]), self._theta[-1]

    def update(self, event: tuple[int, tuple[float, ...]]) -> list[HedgeEstimate]:
        """Fold one aligned observation in; return the updated estimate."""
        ts, prices = event
        if self._pair:
            # Pair fast path, written out: x - x == 0.0 is False for NaN and infinities.
            try:
                y, x = prices
                last = self.last_ts
                valid = y - y == 0.0 and x - x == 0.0 and (last is None or ts > last)
            except (TypeError, ValueError):
                valid = False
            if valid:
                b, a, p00, p01, p11 = self._state
                vw = self._vw
                r00 = p00 + vw
                r11 = p11 + vw
                g0 = r00 * x + p01
                g1 = p01 * x + r11
                q = x * g0 + g1 + self.observation_variance
                if 0.0 < q < math.inf:
                    e = y - (b * x + a)
                    k0 = g0 / q
                    k1 = g1 / q
                    b += k0 * e
                    a += k1 * e
                    self._state = (b, a, r00 - g0 * k0, p01 - g0 * k1, r11 - g1 * k1)
                    self.last_ts = ts
                    return [_new(HedgeEstimate, (ts, (b,), a, y - b * x - a, e, q))]
        return self._update_checked(ts, prices)

    def _update_checked(self, ts: int, prices: tuple[float, ...]) -> list[HedgeEstimate]:
        if len(prices) != self.legs:
            return self._reject("legs", f"{len(prices)} prices were received for {self.legs} legs")
        for index, price in enumerate(prices):
            problem = finite_problem(f"leg {index}", price)
            if problem:
                return self._reject("invalid", problem)
        problem = self._order_problem(ts)
        if problem:
            return self._reject("out-of-order", problem)
        if self._pair:
            return self._reject("numeric", "the forecast variance was not a positive finite number")
        return self._update_basket(ts, prices)

    def _update_basket(self, ts: int, prices: tuple[float, ...]) -> list[HedgeEstimate]:
        f = np.array((*prices[1:], 1.0))
        theta = np.array(self._theta)
        r = np.array(self._cov) + self._vw * np.eye(self.legs)
        g = r @ f
        q = float(f @ g) + self.observation_variance
        if not (q > 0.0 and math.isfinite(q)):
            return self._reject("numeric", f"forecast variance was {q}")
        e = prices[0] - float(f @ theta)
        gain = g / q
        self._theta = (theta + gain * e).tolist()
        self._cov = (r - np.outer(gain, g)).tolist()
        self.last_ts = ts
        ratios, intercept = self.state
        spread = prices[0] - sum(b * x for b, x in zip(ratios, prices[1:], strict=True)) - intercept
        return [HedgeEstimate(ts, ratios, intercept, spread, e, q)]
