"""Bivariate mean/variance/covariance over a rolling window or with exponential weights.

Not operators themselves: the numeric core of correlation, z-score and
half-life (`MomentsOperator` is the base those operators share). Both kinds use centred (Welford/West) updates, never raw sums of
squares, so prices near 1e5 with tiny moves do not cancel catastrophically.
The rolling kind removes the oldest pair with the inverse update and, once per
window length, recomputes every moment exactly from the window, so rounding
drift stays bounded however long it runs. Removing a spike can still leave
rounding residue where the true variance is zero, so a sum of squares that
falls below a billionth of its peak since the last exact pass triggers an
exact pass too, and `flat_x`/`flat_y` call a variance flat when its deviation
is below 1e-12 of the centred values' magnitude (both kinds centre on the
first value seen). Centred, the test is blind to a shift of the data as well
as to its scale: judged against the raw magnitude, zeros then 1e-12 were a
real move while the same data shifted by 1 were "flat", so a z-score's output
times depended on where the series sat. Variances are population (ddof=0).
"""

from __future__ import annotations

from collections import deque

from operators.guard import Guarded

__all__ = [
    "EwmaMoments",
    "MomentsOperator",
    "RollingMoments",
    "alpha_from_halflife",
    "make_moments",
    "moments_ready",
]

_FLAT = 1e-12  # deviation below this fraction of the values' magnitude is rounding noise
_CANCELLED = 1e-9  # a sum of squares below this fraction of its peak is recomputed exactly


def _flat(variance: float, magnitude: float) -> bool:
    return variance <= (_FLAT * magnitude) ** 2


class _Moments:
    """What both moment kinds share: comparison by state, so operator snapshots holding moments compare
    by content, and the flatness tests on the centred sums (``_mx``/``_my`` are the means relative to the
    first value, so a constant series is flat whatever its level)."""

    var_x: float
    var_y: float
    _mx: float
    _my: float

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    @property
    def flat_x(self) -> bool:
        """Return whether x has not varied, up to rounding."""
        return _flat(self.var_x, abs(self._mx))

    @property
    def flat_y(self) -> bool:
        """Return whether y has not varied, up to rounding."""
        return _flat(self.var_y, abs(self._my))


class RollingMoments(_Moments):
    """Moments of the last ``window`` pairs (x, y).

    Values are shifted by the first pair seen before any arithmetic, so the
    running means are small numbers with fine resolution even for prices
    near 1e5 (the "shifted data" variance algorithm).

    Examples
    --------
    >>> m = RollingMoments(3)
    >>> for x, y in [(1.0, 2.0), (2.0, 4.0), (3.0, 6.0), (4.0, 8.0)]:
    ...     m.add(x, y)
    >>> m.count, m.mean_x, m.var_x, m.cov
    (3, 3.0, 0.6666666666666666, 1.3333333333333333)
    """

    def __init__(self, window: int = 100) -> None:
        if window < 2:
            raise ValueError(f"window must be at least 2, received {window}")
        self.window = window
        self._pairs: deque[tuple[float, float]] = deque()
        self.count = 0
        self._shift: tuple[float, float] | None = None
        self._mx = self._my = 0.0
        self._cxx = self._cyy = self._cxy = 0.0
        self._peak_x = self._peak_y = 0.0
        self._since_exact = 0

    @property
    def full(self) -> bool:
        """Return whether the window holds ``window`` pairs."""
        return self.count == self.window

    @property
    def mean_x(self) -> float:
        return self._mx + (self._shift[0] if self._shift else 0.0)

    @property
    def mean_y(self) -> float:
        return self._my + (self._shift[1] if self._shift else 0.0)

    @property
    def var_x(self) -> float:
        return max(self._cxx, 0.0) / self.count

    @property
    def var_y(self) -> float:
        return max(self._cyy, 0.0) / self.count

    @property
    def cov(self) -> float:
        return self._cxy / self.count

    def add(self, x: float, y: float) -> None:
        """Add a pair, dropping the oldest one when the window is full."""
        if self._shift is None:
            self._shift = (x, y)
        kx, ky = self._shift
        x -= kx
        y -= ky
        pairs = self._pairs
        if len(pairs) == self.window:
            ox, oy = pairs.popleft()
            n = self.count - 1
            dx_old = ox - self._mx
            dy_old = oy - self._my
            self._mx -= dx_old / n
            self._my -= dy_old / n
            self._cxx -= dx_old * (ox - self._mx)
            self._cyy -= dy_old * (oy - self._my)
            self._cxy -= (ox - self._mx) * dy_old
            self.count = n
        pairs.append((x, y))
        n = self.count + 1
        dx = x - self._mx
        dy = y - self._my
        self._mx += dx / n
        self._my += dy / n
        self._cxx += dx * (x - self._mx)
        self._cyy += dy * (y - self._my)
        self._cxy += dx * (y - self._my)
        self.count = n
        self._since_exact += 1
        cxx, cyy = self._cxx, self._cyy
        if cxx > self._peak_x:
            self._peak_x = cxx
        if cyy > self._peak_y:
            self._peak_y = cyy
        if (self._since_exact >= self.window or cxx < _CANCELLED * self._peak_x
                or cyy < _CANCELLED * self._peak_y):
            self._recompute()

    def _recompute(self) -> None:
        n = len(self._pairs)
        mx = sum(p[0] for p in self._pairs) / n
        my = sum(p[1] for p in self._pairs) / n
        cxx = cyy = cxy = 0.0
        for x, y in self._pairs:
            dx, dy = x - mx, y - my
            cxx += dx * dx
            cyy += dy * dy
            cxy += dx * dy
        self._mx, self._my, self._cxx, self._cyy, self._cxy = mx, my, cxx, cyy, cxy
        self._peak_x, self._peak_y = cxx, cyy
        self._since_exact = 0


class EwmaMoments(_Moments):
    """Exponentially weighted moments: a new pair has weight ``alpha``, the first one seeds the means.

    The recursion is the exact weighted mean and (biased) weighted covariance
    with normalised weights ``(1-alpha)**t`` for the first pair and
    ``alpha*(1-alpha)**(t-i)`` for pair ``i``. It runs on values less the
    first pair, so rounding residue scales with the data's moves, not its level.

    Examples
    --------
    >>> m = EwmaMoments(alpha=0.5)
    >>> for x, y in [(1.0, 1.0), (3.0, 2.0)]:
    ...     m.add(x, y)
    >>> m.count, m.mean_x, m.var_x, m.cov
    (2, 2.0, 1.0, 0.5)
    """

    def __init__(self, alpha: float = 0.05) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), received {alpha}")
        self.alpha = alpha
        self.count = 0
        self._origin = (0.0, 0.0)
        self._mx = self._my = 0.0
        self.var_x = self.var_y = self.cov = 0.0

    @property
    def mean_x(self) -> float:
        return self._origin[0] + self._mx

    @property
    def mean_y(self) -> float:
        return self._origin[1] + self._my

    def add(self, x: float, y: float) -> None:
        """Fold a pair in."""
        if self.count == 0:
            self._origin = (x, y)
        else:
            a = self.alpha
            dx = x - self._origin[0] - self._mx
            dy = y - self._origin[1] - self._my
            self._mx += a * dx
            self._my += a * dy
            keep = 1.0 - a
            self.var_x = keep * (self.var_x + a * dx * dx)
            self.var_y = keep * (self.var_y + a * dy * dy)
            self.cov = keep * (self.cov + a * dx * dy)
        self.count += 1


def alpha_from_halflife(halflife: float) -> float:
    """Return the EWMA weight whose influence halves every ``halflife`` events.

    Examples
    --------
    >>> alpha_from_halflife(1.0)
    0.5
    """
    if halflife <= 0:
        raise ValueError(f"halflife must be positive, received {halflife}")
    return 1.0 - 0.5 ** (1.0 / halflife)


def make_moments(window: int | None, halflife: float | None) -> RollingMoments | EwmaMoments:
    """Return rolling moments for ``window`` or EWMA moments for ``halflife``; exactly one is given.

    Examples
    --------
    >>> type(make_moments(20, None)).__name__, type(make_moments(None, 10.0)).__name__
    ('RollingMoments', 'EwmaMoments')
    """
    if (window is None) == (halflife is None):
        raise ValueError("give exactly one of window (rolling) or halflife (EWMA)")
    if window is not None:
        return RollingMoments(window)
    return EwmaMoments(alpha_from_halflife(halflife))  # type: ignore[arg-type]


def moments_ready(moments: RollingMoments | EwmaMoments, min_count: int) -> bool:
    """Return whether enough pairs were seen: a full window, or ``min_count`` EWMA updates."""
    if isinstance(moments, RollingMoments):
        return moments.full
    return moments.count >= min_count


class MomentsOperator(Guarded):
    """Base of the operators that read rolling or EWMA moments (correlation, z-score).

    Holds the one way they are configured, so both take the same parameters.

    Parameters
    ----------
    window
        Rolling window length in events; give this or ``halflife``.
    halflife
        EWMA half-life in events.
    min_count
        EWMA updates before the first output.
    """

    def __init__(self, window: int | None = 100, halflife: float | None = None, min_count: int = 10) -> None:
        self._init_guard()
        self.moments = make_moments(None if halflife is not None else window, halflife)
        self.min_count = min_count
