"""Meta-labelling: learn, online, whether an entry of the rule ends profitable net of costs.

The rule proposes entries; this operator labels each one with the triple-barrier
method (López de Prado) and learns a classifier on the features seen at entry.

* An entry opens a pending label. Later marks of the spread move it: the net
  return is ``direction * (spread - entry spread) - cost - funding paid``,
  where ``cost`` covers fees and half-spreads of opening and closing every leg
  and funding accrues hour by hour at the rate each mark carries.
* The label resolves at the first mark where the net return reaches
  ``+profit_take * scale`` (label True), falls to ``-stop * scale`` (False), or
  ``max_hold_ms`` has passed (True when the net return is positive).
* Only then does the classifier learn from the entry's features. A decision at
  time t therefore uses labels resolved by t: no look-ahead.

Units: spreads here are log-price spreads, so a spread difference is the
return per unit of the first leg's notional; ``cost`` and the funding rate are
expressed the same way.
"""

from __future__ import annotations

import math

from river import linear_model, optim, preprocessing

from operators.state import ModelState, Record

__all__ = ["LabelEntry", "LabelMark", "LabelOutcome", "MetaLabeler"]


class LabelEntry(Record, kw_only=True):
    """An entry proposed by the rule, to be labelled once its barrier resolves."""

    ts: int
    direction: int
    spread: float
    scale: float
    cost: float
    features: dict[str, float]


class LabelMark(Record, kw_only=True):
    """The spread at ``ts``; ``funding_per_hour`` is what a long spread pays per hour (negative: receives)."""

    ts: int
    spread: float
    funding_per_hour: float = 0.0


class LabelOutcome(Record, kw_only=True):
    """A resolved label: which barrier was hit, when, and the net return at that point."""

    entry_ts: int
    exit_ts: int
    direction: int
    barrier: str
    net: float
    label: bool


class _Pending:
    __slots__ = ("entry", "funding", "last_ts")

    def __init__(self, entry: LabelEntry) -> None:
        self.entry = entry
        self.funding = 0.0
        self.last_ts = entry.ts


class MetaLabeler(ModelState):
    """Triple-barrier labels and an online logistic classifier of entry success.

    Parameters
    ----------
    profit_take
        Upper barrier in multiples of the entry's ``scale`` (spread volatility).
    stop
        Lower barrier in multiples of ``scale``.
    max_hold_ms
        Time barrier: the label resolves by the sign of the net return then.
    warmup
        Labels to learn before `ready` is true; until then callers should not
        gate on `probability`, which is uninformed.
    learning_rate
        SGD step of the logistic regression (features are standardised online).

    Examples
    --------
    >>> meta = MetaLabeler(profit_take=1.0, stop=1.0, max_hold_ms=10_000, warmup=1)
    >>> meta.open(LabelEntry(ts=0, direction=1, spread=-0.02, scale=0.01, cost=0.001, features={"z": -2.0}))
    >>> meta.update(LabelMark(ts=1_000, spread=-0.015))
    []
    >>> meta.labels_learned
    0
    >>> [o.barrier for o in meta.update(LabelMark(ts=2_000, spread=-0.005))]
    ['profit']
    >>> meta.labels_learned, meta.ready, meta.version
    (1, True, 'meta_label:1')
    """

    def __init__(
        self,
        profit_take: float = 2.0,
        stop: float = 2.0,
        max_hold_ms: int = 4 * 3_600_000,
        warmup: int = 20,
        learning_rate: float = 0.05,
    ) -> None:
        if profit_take <= 0 or stop <= 0 or max_hold_ms <= 0:
            raise ValueError("profit_take, stop and max_hold_ms must be positive")
        self.profit_take = profit_take
        self.stop = stop
        self.max_hold_ms = max_hold_ms
        self.warmup = warmup
        self.model = preprocessing.StandardScaler() | linear_model.LogisticRegression(
            optimizer=optim.SGD(learning_rate)
        )
        self.pending: list[_Pending] = []
        self.labels_learned = 0

    @property
    def ready(self) -> bool:
        """Whether enough labels were learned for `probability` to mean something."""
        return self.labels_learned >= self.warmup

    @property
    def version(self) -> str:
        """Model version: the number of labels learned, which is all that changes it."""
        return f"meta_label:{self.labels_learned}"

    def probability(self, features: dict[str, float]) -> float:
        """Return the estimated probability that an entry with ``features`` ends profitable."""
        return float(self.model.predict_proba_one(_finite(features)).get(True, 0.5))

    def open(self, entry: LabelEntry) -> None:
        """Start labelling ``entry``; it is learned from only when a barrier resolves."""
        if entry.direction not in (1, -1):
            raise ValueError(f"direction must be 1 or -1, received {entry.direction}")
        self.pending.append(_Pending(entry))

    def update(self, mark: LabelMark) -> list[LabelOutcome]:
        """Move every pending label to ``mark``; learn from and return those that resolved."""
        resolved: list[LabelOutcome] = []
        still: list[_Pending] = []
        for pending in self.pending:
            entry = pending.entry
            if mark.ts <= pending.last_ts:
                still.append(pending)
                continue
            hours = (mark.ts - pending.last_ts) / 3_600_000
            pending.funding += entry.direction * mark.funding_per_hour * hours
            pending.last_ts = mark.ts
            net = entry.direction * (mark.spread - entry.spread) - entry.cost - pending.funding
            if net >= self.profit_take * entry.scale:
                barrier, label = "profit", True
            elif net <= -self.stop * entry.scale:
                barrier, label = "stop", False
            elif mark.ts - entry.ts >= self.max_hold_ms:
                barrier, label = "time", net > 0
            else:
                still.append(pending)
                continue
            self.model.learn_one(_finite(entry.features), label)
            self.labels_learned += 1
            resolved.append(
                LabelOutcome(entry_ts=entry.ts, exit_ts=mark.ts, direction=entry.direction, barrier=barrier, net=net, label=label)
            )
        self.pending = still
        return resolved


def _finite(features: dict[str, float]) -> dict[str, float]:
    return {name: value for name, value in features.items() if math.isfinite(value)}
