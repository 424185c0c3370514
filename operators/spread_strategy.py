"""One spread's whole decision path: align → Kalman → spread/z → features → rule → River models → Signal.

A `SpreadStrategy` owns the state of one spread (N legs, the first explained by
the others) and is fed that spread's events in arrival order:

* `Bar` of a leg (only the configured interval; a bar marked ``incomplete``,
  which overlaps a trade gap, is refused): the close is the leg's price.
  Legs are aligned as of the slowest one (`operators.align.AsOfAligner`), so
  each row is computed once every leg has reported the period. With
  ``reorder_ms`` set, bars first go through `operators.leg_merge.LegMerger`,
  so legs read from topics at different paces still align in event-time
  order (`flush` releases what it holds at the end of a finite input);
* `Funding` of a leg: its hourly rate, for the funding differential;
* `BookSnapshot` of a leg: its half-spread, depth impact at the configured
  size, and imbalance;
* `FeeSchedule`: the taker rate;
* `StrategyParams`: an operator's new bands or size (`retune`); values that
  would disorder the bands are refused as a `Skip` and change nothing;
* `PairStats` of this spread from a rescan: when accepted, a spread ADWIN
  retired is traded again (`readmit`);
* `Delisting` of a leg: the spread is retired for good -- one flat "delisted"
  signal (once it has signalled at all), then every bar is refused as
  "delisted"; a rescan does not re-admit it.

Prices enter as logs, so the hedge ratios are in return space, the spread
``log p0 - sum(b_i log p_i) - a`` moves like a return on the first leg's
notional, and fees, half-spreads and funding (fractions of notional) add to
it. Each row gives the features, the rule's proposal on the z-score (or on
``e / sqrt(Q)``), then the switchable models: ADWIN may retire the spread,
Half-Space Trees and the meta-label classifier may veto an entry (or the
classifier size it), the bandit picks the bands of each round trip and
learns from its net PnL. Output is a `Signal` on every change of target (and
a "hold" heartbeat), or a `Skip` naming why an event was refused: a refused
event changes no state, so one bad bar never corrupts the spread.

A signal is stamped at the close of the newest bar in its row (bar open time
plus the interval): the moment all its inputs were known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from operators.align import AsOfAligner
from operators.anomaly_gate import AnomalyGate
from operators.band_rule import band_decision
from operators.correlation import Correlation
from operators.half_life import HalfLife
from operators.guard import price_problem
from operators.kalman import HedgeEstimate, KalmanHedge
from operators.leg_merge import LegMerger
from operators.meta_label import LabelEntry, LabelMark, MetaLabeler
from operators.relation_break import RelationBreak
from operators.state import ModelState
from operators.threshold_bandit import ArmReward, ThresholdBandit
from operators.trading_costs import LegCost, leg_cost, round_trip_cost
from operators.zscore import ZScore
from pairflow.config import StrategySettings
from pairflow.events import Bar, BookSnapshot, Delisting, FeeSchedule, Funding, PairStats, Signal, StrategyParams
from pairflow.hyperliquid.schemas import interval_ms

__all__ = ["Skip", "SpreadStrategy", "pair_name"]

def pair_name(legs: tuple[str, ...]) -> str:
    """Return the spread's key, its coins joined by '/' (e.g. ``ETH/SOL``)."""
    return "/".join(legs)


class Skip(NamedTuple):
    """An event the spread refused: ``kind`` is the counted reason, ``detail`` the logged one."""

    pair: str
    ts: int
    kind: str
    detail: str


@dataclass(slots=True)
class _Position:
    direction: int
    size: float
    entry_logs: tuple[float, ...]
    hedge: tuple[float, ...]
    cost: float
    scale: float
    arm: int | None
    last_ts: int
    funding: float = 0.0

    def net(self, logs: tuple[float, ...]) -> float:
        moves = [now - then for now, then in zip(logs, self.entry_logs, strict=True)]
        gross = moves[0] - sum(b * m for b, m in zip(self.hedge, moves[1:], strict=True))
        return self.direction * gross - self.cost - self.funding


class SpreadStrategy(ModelState):
    """Decide target positions for one spread from its legs' bars, books, funding and fees.

    Parameters
    ----------
    legs
        The coins; the first is explained by the others.
    settings
        The ``[strategy]`` settings (bands, Kalman noise, sizes, model switches).

    Examples
    --------
    >>> import math
    >>> settings = StrategySettings(bar_interval="1m", warmup_rows=30, zscore_window=30, entry_z=1.5, heartbeat_rows=0)
    >>> spread = SpreadStrategy(("ETH", "SOL"), settings)
    >>> def bar(coin, minute, close):
    ...     return Bar(id=f"{coin}:{minute}", coin=coin, ts=minute * 60_000, interval="1m", open=close,
    ...                high=close, low=close, close=close, volume=1.0, notional=close, vwap=close,
    ...                trades=1, buy_volume=1.0, sell_volume=0.0)
    >>> out = []
    >>> for minute in range(200):
    ...     sol = 100.0 * math.exp(0.001 * minute)
    ...     eth = 3000.0 * math.exp(0.001 * minute + 0.004 * math.sin(minute / 7))
    ...     out += spread.update(bar("SOL", minute, sol)) + spread.update(bar("ETH", minute, eth))
    >>> sorted({s.reason for s in out if isinstance(s, Signal)})
    ['entry-long', 'entry-short', 'exit']
    >>> spread.update(bar("SOL", 200, float("nan")))
    [Skip(pair='ETH/SOL', ts=12000000, kind='invalid', detail='SOL price was nan')]
    """

    # Defaults for a state restored from a snapshot taken before delistings were tracked.
    delisted: str | None = None
    last_row: tuple[int, HedgeEstimate, float, dict[str, float]] | None = None

    def __init__(self, legs: tuple[str, ...] = ("A", "B"), settings: StrategySettings | None = None) -> None:
        s = settings or StrategySettings()
        self.legs = tuple(legs)
        self.pair = pair_name(self.legs)
        self.interval = s.bar_interval
        self.interval_ms = interval_ms(s.bar_interval)
        self.rule = s.rule
        self.entry_z, self.exit_z, self.stop_z = s.entry_z, s.exit_z, s.stop_z
        self.notional = s.notional_usd
        self.taker_fee = s.taker_fee
        self.default_cost = LegCost(s.default_half_spread_bps / 10_000.0, 0.0)
        self.heartbeat_rows = s.heartbeat_rows
        self.warmup_rows = s.warmup_rows
        self.meta_mode, self.meta_threshold = s.meta_mode, s.meta_threshold
        self.merger = LegMerger(self.legs, s.reorder_ms) if s.reorder_ms else None
        self.aligner = AsOfAligner(self.legs, staleness_ms=s.staleness_ms, max_gap_ms=s.max_gap_ms)
        self.kalman = KalmanHedge(len(self.legs), s.kalman_delta, s.kalman_observation_variance)
        self.zscore = ZScore(window=s.zscore_window)
        self.half_life = HalfLife(window=s.zscore_window)
        self.correlation = Correlation(window=s.zscore_window)
        self.meta = (
            MetaLabeler(s.meta_profit_take, s.meta_stop, s.meta_max_hold_ms, s.meta_warmup) if s.meta_label else None
        )
        self.anomaly = AnomalyGate(threshold=s.anomaly_threshold, seed=s.seed) if s.anomaly_gate else None
        self.breaks = RelationBreak(ratio=s.break_ratio) if s.relation_break else None
        self.bandit = ThresholdBandit(tuple(s.bandit_grid), seed=s.seed) if s.bandit else None
        self.arm = self.bandit.pull() if self.bandit else None
        n = len(self.legs)
        self.recv_ts = [0] * n
        self.bar_ts: list[int | None] = [None] * n
        self.funding = [0.0] * n
        self.imbalance: list[float | None] = [None] * n
        self.books: list[BookSnapshot | None] = [None] * n
        self.leg_costs: list[LegCost] = [self.default_cost] * n
        self.costed_hedge: tuple[float, ...] | None = None
        self.logs: tuple[float, ...] | None = None
        self.score: float | None = None
        self.last_z: float | None = None
        self.half_life_rows: float | None = None
        self.health: float | None = None
        self.rows = 0
        self.rows_since_signal = 0
        self.position: _Position | None = None
        self.retired = False
        self.delisted: str | None = None
        self.last_row: tuple[int, HedgeEstimate, float, dict[str, float]] | None = None

    def update(self, event: Bar | Funding | BookSnapshot | FeeSchedule | PairStats | Delisting | StrategyParams,
               ) -> list[Signal | Skip]:
        """Fold one event of this spread in; return the signals or the refusal it causes."""
        kind = type(event)
        if self.delisted is not None and kind is Bar:
            return [Skip(self.pair, event.ts, "delisted", f"{self.delisted} was delisted")]
        if kind is Delisting:
            return self._delist(event)  # type: ignore[arg-type]
        if kind is Bar:
            if event.interval != self.interval:  # type: ignore[union-attr]
                return []
            if event.incomplete:  # type: ignore[union-attr]
                return [Skip(self.pair, event.ts, "incomplete", f"{event.coin} bar {event.id} overlaps a trade gap")]  # type: ignore[union-attr]
            return self._on_bar(event) if self.merger is None else self._merge(event)  # type: ignore[arg-type]
        if kind is PairStats:
            # A rescan accepted this spread again: trade it again if ADWIN had retired it.
            if event.accepted and tuple(event.coins or (event.coin_a, event.coin_b)) == self.legs:  # type: ignore[union-attr]
                self.readmit()
            return []
        if kind is StrategyParams:
            try:
                self.retune(event.entry_z, event.exit_z, event.stop_z, event.notional_usd)  # type: ignore[union-attr]
            except ValueError as error:
                return [Skip(self.pair, event.ts, "invalid-params", str(error))]
            return []
        if kind is FeeSchedule:
            if math.isfinite(event.taker):  # type: ignore[union-attr]
                self.taker_fee = event.taker  # type: ignore[union-attr]
            return []
        index = self.legs.index(event.coin) if event.coin in self.legs else -1  # type: ignore[union-attr]
        if index < 0:
            return [Skip(self.pair, event.ts, "unknown-leg", f"{event.coin} is not a leg of {self.pair}")]  # type: ignore[union-attr]
        if kind is Funding:
            if not math.isfinite(event.rate):  # type: ignore[union-attr]
                return [Skip(self.pair, event.ts, "invalid", f"{event.coin} funding rate was {event.rate}")]  # type: ignore[union-attr]
            self.funding[index] = event.rate  # type: ignore[union-attr]
        elif kind is BookSnapshot:
            self.books[index] = event  # type: ignore[assignment]
            self.imbalance[index] = event.imbalance  # type: ignore[union-attr]
            self.costed_hedge = None
        return []

    def _delist(self, event: Delisting) -> list[Signal | Skip]:
        if event.coin not in self.legs or self.delisted is not None:
            return []
        self.delisted = event.coin
        out: list[Signal | Skip] = [Skip(self.pair, event.ts, "delisted", f"{event.coin} was delisted: spread retired")]
        if self.last_row is not None and self.logs is not None:
            row_ts, est, z, features = self.last_row
            self._close(self.logs)
            # After the last row, so the flat signal neither precedes nor replaces (same id) a decided one.
            out.append(self._signal(max(event.ts, row_ts + 1), "delisted", self.logs, est, z, dict(features)))
        return out

    def flush(self) -> list[Signal | Skip]:
        """Decide on the bars still held for event-time order (end of a finite input)."""
        if self.merger is None:
            return []
        return [out for bar in self.merger.flush() for out in self._on_bar(bar)]

    def _merge(self, bar: Bar) -> list[Signal | Skip]:
        problem = price_problem(bar.coin, bar.close)
        if problem is not None:
            return [Skip(self.pair, bar.ts, "invalid", problem)]
        return [out for due in self.merger.update(bar) for out in self._on_bar(due)]  # type: ignore[union-attr]

    def _on_bar(self, bar: Bar) -> list[Signal | Skip]:
        index = self.legs.index(bar.coin) if bar.coin in self.legs else -1
        if index >= 0 and bar.ts == self.bar_ts[index]:
            # Ingest re-emits a bar a late trade corrected; the row it fed is already decided.
            return [Skip(self.pair, bar.ts, "revision", f"{bar.coin} bar {bar.id} was corrected after use")]
        aligner = self.aligner
        refused = sum(aligner.rejects.values())
        rows = aligner.update((bar.coin, bar.ts, bar.close))
        if sum(aligner.rejects.values()) != refused:
            kind, _, detail = (aligner.last_reason or "").partition(": ")
            return [Skip(self.pair, bar.ts, kind, detail)]
        self.recv_ts[index] = bar.recv_ts
        self.bar_ts[index] = bar.ts
        if not rows:
            return []
        ts, prices = rows[0]
        logs = tuple(math.log(p) for p in prices)
        estimates = self.kalman.update((ts, logs))
        if not estimates:
            kind, _, detail = (self.kalman.last_reason or "").partition(": ")
            return [Skip(self.pair, ts, kind, detail)]
        return self._on_row(ts + self.interval_ms, logs, estimates[0])

    def _on_row(self, ts: int, logs: tuple[float, ...], est: HedgeEstimate) -> list[Signal | Skip]:
        previous_logs, self.logs = self.logs, logs
        hedge = est.hedge_ratios
        if previous_logs is not None:
            moves = [now - then for now, then in zip(logs, previous_logs, strict=True)]
            hedged = sum(b * m for b, m in zip(hedge, moves[1:], strict=True))
            for value in self.correlation.update((ts, moves[0], hedged)):
                self.health = value.correlation
        for value in self.half_life.update((ts, est.spread)):
            self.half_life_rows = value.half_life
        zs = self.zscore.update((ts, est.spread))
        self.rows += 1
        if not zs or self.rows < self.warmup_rows:
            return []
        z = zs[0]
        error_z = est.error / math.sqrt(est.error_variance)
        score = z.zscore if self.rule == "zscore" else error_z
        previous_score, self.score = self.score, score
        funding = self.funding[0] - sum(b * f for b, f in zip(hedge, self.funding[1:], strict=True))
        features = self._features(z.zscore, z.std, error_z, funding, hedge)
        self.last_z = z.zscore
        self.last_row = (ts, est, z.zscore, features)
        if self.position is not None:
            p = self.position
            p.funding += p.direction * funding * (ts - p.last_ts) / 3_600_000
            p.last_ts = ts
        if self.meta is not None:
            self.meta.update(LabelMark(ts=ts, spread=est.spread, funding_per_hour=funding))
        anomalous = self.anomaly is not None and self.anomaly.update(features)[0].anomalous
        decision: str | None
        if self.breaks is not None and (self.breaks.update(error_z) or self.breaks.retired):
            # Retired: say so once (closing what is open), then propose nothing until readmitted.
            decision = "retired" if self.breaks.retired != self.retired or self.position is not None else None
            self.retired = True
        else:
            self.retired = False
            entry_z, exit_z = self.bandit.thresholds(self.arm) if self.bandit is not None else (self.entry_z, self.exit_z)
            position = self.position.direction if self.position is not None else 0
            decision = band_decision(position, previous_score, score, entry_z, exit_z, self.stop_z)
        reason = decision
        if decision in ("exit", "stop", "retired"):
            self._close(logs)
        elif decision is not None:
            reason = self._open(decision, ts, logs, est, z.std, features, anomalous)
        self.rows_since_signal += 1
        if reason is None:
            if not self.heartbeat_rows or self.rows_since_signal < self.heartbeat_rows:
                return []
            reason = "hold"
        self.rows_since_signal = 0
        return [self._signal(ts, reason, logs, est, z.zscore, features)]

    def _features(self, z: float, std: float, error_z: float, funding: float, hedge: tuple[float, ...]) -> dict[str, float]:
        costed = self.costed_hedge
        if costed is None or any(abs(b - c) > 0.01 * abs(c) for b, c in zip(hedge, costed, strict=True)):
            self._cost_legs(hedge)
        weights = (1.0, *(abs(b) for b in hedge))
        features = {
            "zscore": z,
            "zscore_change": z - self.last_z if self.last_z is not None else 0.0,
            "spread_vol": std,
            "error_z": error_z,
            "funding_diff_per_hour": funding,
            "cost": round_trip_cost(self.taker_fee, self.leg_costs, weights),
        }
        if self.half_life_rows is not None:
            features["half_life"] = self.half_life_rows
        if self.health is not None:
            features["correlation"] = self.health
        first, others = self.imbalance[0], [i for i in self.imbalance[1:] if i is not None]
        if first is not None and others:
            features["imbalance"] = first - sum(others) / len(others)
        return features

    def _cost_legs(self, hedge: tuple[float, ...]) -> None:
        # Books are re-walked when a book arrives or a hedge ratio moved by more than 1 %, not on every row.
        self.costed_hedge = hedge
        for index, book in enumerate(self.books):
            notional = self.notional * (1.0 if index == 0 else abs(hedge[index - 1]))
            cost = leg_cost(book, notional) if book is not None else None
            self.leg_costs[index] = cost if cost is not None else self.default_cost

    def _open(self, decision: str, ts: int, logs: tuple[float, ...], est: HedgeEstimate, scale: float,
              features: dict[str, float], anomalous: bool) -> str:
        direction = 1 if decision == "entry-long" else -1
        cost = features["cost"]
        size = 1.0
        if self.meta is not None:
            entry = LabelEntry(ts=ts, direction=direction, spread=est.spread, scale=scale, cost=cost, features=dict(features))
            self.meta.open(entry)
            if self.meta.ready:
                probability = self.meta.probability(features)
                features["meta_probability"] = probability
                if self.meta_mode == "size":
                    size = probability
                elif probability < self.meta_threshold:
                    return "veto-meta"
        if anomalous:
            return "veto-anomaly"
        self.position = _Position(direction, size, logs, est.hedge_ratios, cost, scale, self.arm, ts)
        return decision

    def _close(self, logs: tuple[float, ...]) -> None:
        position, self.position = self.position, None
        if self.bandit is not None and position is not None and position.arm is not None:
            reward = position.net(logs) / position.scale
            (self.arm,) = self.bandit.update(ArmReward(position.arm, reward))

    def _signal(self, ts: int, reason: str, logs: tuple[float, ...], est: HedgeEstimate, z: float,
                features: dict[str, float]) -> Signal:
        p = self.position
        target = p.direction * p.size if p is not None else 0.0
        hedge = p.hedge if p is not None else est.hedge_ratios
        weights = (1.0, *(-b for b in hedge))
        # (+ 0.0 turns the -0.0 of a flat hedge leg into 0.0)
        leg_targets = tuple(target * w * self.notional / math.exp(log) + 0.0 for w, log in zip(weights, logs, strict=True))
        versions = {"kalman": f"kalman:{self.rows}"}
        for model in (self.meta, self.anomaly, self.breaks, self.bandit):
            if model is not None:
                versions[model.version.partition(":")[0]] = model.version
        return Signal(
            ts=ts,
            recv_ts=max(self.recv_ts),
            id=f"{self.pair}:{ts}",
            pair=self.pair,
            hedge_ratio=est.hedge_ratios[0],
            spread=est.spread,
            zscore=z,
            target=target,
            reason=reason,
            legs=self.legs,
            hedge_ratios=est.hedge_ratios,
            leg_targets=leg_targets,
            features=features,
            model_versions=versions,
        )

    def retune(self, entry_z: float | None = None, exit_z: float | None = None, stop_z: float | None = None,
               notional_usd: float | None = None) -> None:
        """Take new bands or a new size while running: an operator changed them, and a restart would lose the models.

        The bands apply from the next row (an open position exits on the new
        exit and stop bands); the size applies to the next signal. With the
        bandit on, it keeps choosing entry and exit bands from its grid.

        Raises
        ------
        ValueError
            When the bands would not satisfy ``exit_z < entry_z < stop_z``, or
            the size is not positive; nothing is changed then.

        Examples
        --------
        >>> spread = SpreadStrategy(("ETH", "SOL"), StrategySettings(entry_z=2.0, exit_z=0.5, stop_z=5.0))
        >>> spread.retune(entry_z=3.0, notional_usd=500.0)
        >>> spread.entry_z, spread.exit_z, spread.notional
        (3.0, 0.5, 500.0)
        >>> spread.retune(exit_z=4.0)
        Traceback (most recent call last):
        ...
        ValueError: bands must satisfy exit_z < entry_z < stop_z, received exit_z=4.0 entry_z=3.0 stop_z=5.0
        >>> spread.update(StrategyParams(ts=5, id="p1", stop_z=2.0))
        [Skip(pair='ETH/SOL', ts=5, kind='invalid-params', detail='bands must satisfy exit_z < entry_z < stop_z, received exit_z=0.5 entry_z=3.0 stop_z=2.0')]
        >>> spread.update(StrategyParams(ts=6, id="p2", entry_z=2.5)), spread.entry_z
        ([], 2.5)
        """
        entry = self.entry_z if entry_z is None else entry_z
        exit_ = self.exit_z if exit_z is None else exit_z
        stop = self.stop_z if stop_z is None else stop_z
        if not 0 <= exit_ < entry < stop:
            raise ValueError(f"bands must satisfy exit_z < entry_z < stop_z, received exit_z={exit_} entry_z={entry} stop_z={stop}")
        if notional_usd is not None and not notional_usd > 0:
            raise ValueError(f"notional_usd must be positive, received {notional_usd}")
        self.entry_z, self.exit_z, self.stop_z = entry, exit_, stop
        if notional_usd is not None and notional_usd != self.notional:
            self.notional = notional_usd
            self.costed_hedge = None  # depth costs depend on the size: re-walk the books on the next row

    def restarted(self) -> None:
        """Note that the input restarted (recovery): legs are held for each other until all were seen again."""
        if self.merger is not None:
            self.merger.restart()

    def readmit(self) -> None:
        """Trade the spread again after a rescan accepted it (clears an ADWIN retirement)."""
        if self.breaks is not None:
            self.breaks.readmit()
