"""The vectorised bar-data path of `pairflow backtest --vectorised`: the replay's result, computed from arrays.

`app.backtest.run` replays every event through the strategy, the desk and the venue engine. For the
rolling-OLS fixed-unit rule filled at the bar close, with a fixed taker fee and no risk limit, nothing
in that chain depends on more than the bar closes, the recorded funding and the decisions themselves,
so this module computes the same result directly:

* every window's OLS fit at once, with the operator's own formula (`operators.rolling_ols.window_fits`);
* the band rule's decisions (`operators.band_rule`) by jumping from one crossing to the next instead
  of visiting every bar;
* at each decision only: the desk's sizing (`operators.netting.size_spread`), the router's order checks
  that remain with no limit set ($10 minimum, price band), and fills at the close on the exchange's
  grid, with the engine's integer fees (`venue.engine.fees.fee_of`) and realised PnL
  (`venue.engine.accounts.apply_trade`), its trade and order ids, and the desk's fill order;
* hourly funding on open legs as the engine settles it (`venue.engine.funding.funding_paid`, at the
  oracle recorded last before the hour, else at the last close before the hour is crossed);
* the equity and gross curves, exposure, round trips and metrics from those, as the replay books them.

It is an accelerator of the same backtest, never a second truth: tests run both paths on the golden
data and on random bars (Hypothesis) and require the same fills, funding, signals, trades hash and
curve, PnL figures to 1e-9. What it cannot reproduce exactly is refused in one line naming the option
(`check`), or, for a run that would reach what only the replay models (an order at the $10 minimum,
positions beyond the capital), while running.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from decimal import Decimal
from operator import attrgetter

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from app.backtest.metrics import compute_metrics
from app.backtest.run import BacktestResult, RoundTrip, trades_hash
from operators.netting import size_spread
from operators.order_rules import MIN_NOTIONAL, AssetRules
from operators.orders import cloid_for
from operators.pair_rows import Row, signal_of
from operators.rolling_ols import unit_sizes, window_fits
from operators.spread_strategy import pair_name
from pairflow.config import Settings
from pairflow.errors import ConfigError
from pairflow.events import Fill, FundingPayment
from sources.replay import HOUR_MS, Recording
from venue.engine.accounts import Account, Position, apply_trade
from venue.engine.constants import FIRST_OID
from venue.engine.fees import fee_of
from venue.engine.funding import funding_paid
from venue.engine.rules import from_number, rounded
from venue.universe import default_universe

__all__ = ["LIMITS", "check", "run_vectorised"]

CHUNK = 2048
"""Windows fitted per numpy call."""
_OPEN, _CLOSE, _ID = attrgetter("ts"), attrgetter("close"), attrgetter("id")

LIMITS = ("max_order_notional", "max_coin_notional", "max_gross_notional", "max_net_notional", "max_leverage",
          "max_orders_per_minute", "max_funding_cost", "spread_stop_loss", "time_stop_ms", "daily_drawdown")
"""Execution limits the vectorised path does not model: each must be 0 (off)."""


def check(settings: Settings, spreads: Sequence[tuple[str, ...]], *, mode: str, fill: str, latency_ms: int,
          taker_fee: float | None) -> None:
    """Raise `ConfigError` naming the first option the vectorised path cannot reproduce exactly."""
    if mode != "rolling-ols":
        raise ConfigError(f"--vectorised runs --mode rolling-ols only, not {mode!r}")
    if fill != "close":
        raise ConfigError(f"--vectorised fills at the bar close only: drop --fill {fill} or --vectorised")
    if latency_ms:
        raise ConfigError("--vectorised models no latency: drop --latency-ms or --vectorised")
    if taker_fee is None:
        raise ConfigError("--vectorised needs a fixed --taker-fee (or --no-costs): the venue's volume-tiered "
                          "fee schedule is modelled by the replay only")
    execution = settings.execution
    if execution.order_type != "ioc":
        raise ConfigError(f"--vectorised sends IOC orders only: execution.order_type is {execution.order_type!r}")
    for name in LIMITS:
        if getattr(execution, name):
            raise ConfigError(f"--vectorised models no risk limit: execution.{name} is {getattr(execution, name)}; "
                              "set it to 0 or drop --vectorised")
    seen: dict[str, str] = {}
    for legs in spreads:
        if len(legs) != 2:
            raise ConfigError(f"--vectorised trades pairs: {pair_name(legs)} has {len(legs)} legs")
        for coin in legs:
            if coin in seen:
                raise ConfigError(f"--vectorised needs spreads without a shared coin: {coin} is in {seen[coin]} "
                                  f"and {pair_name(legs)} (netting across spreads is modelled by the replay only)")
            seen[coin] = pair_name(legs)


def _decisions(legs: tuple[str, str], series: dict[str, tuple[np.ndarray, np.ndarray]], window: int,
               entry: float, exit_: float, stop: float) -> list[tuple]:
    """Return one spread's decisions, each as (time, reason, position after, b, residual, z, first leg's
    close, second leg's close), on the rows where both legs have a bar (as `operators.pair_rows` joins them)."""
    (ty, cy), (tx, cx) = series[legs[0]], series[legs[1]]
    common, iy, ix = np.intersect1d(ty, tx, assume_unique=True, return_indices=True)
    y, x = cy[iy], cx[ix]
    if len(common) < window:
        return []
    ys, xs = sliding_window_view(y, window), sliding_window_view(x, window)
    # in blocks of rows that stay in the CPU cache; each row's figures are the same in any block
    fits = [window_fits(ys[at:at + CHUNK], xs[at:at + CHUNK]) for at in range(0, len(ys), CHUNK)]
    b, residual, z = (np.concatenate(parts) for parts in zip(*fits))
    decided = _band_decisions(z, entry, exit_, stop)
    if not decided:
        return []
    at = np.array([index for index, _, _ in decided], dtype=np.int64)
    rows = at + window - 1
    return list(zip(common[rows].tolist(), [reason for _, reason, _ in decided],
                    [position for _, _, position in decided], b[at].tolist(), residual[at].tolist(),
                    z[at].tolist(), y[rows].tolist(), x[rows].tolist()))


def _band_decisions(z: np.ndarray, entry: float, exit_: float, stop: float) -> list[tuple[int, str, int]]:
    """Return `operators.band_rule.band_decision`'s decisions over ``z`` as (index, reason, position after),
    jumping from one crossing to the next instead of visiting every row."""
    decided: list[tuple[int, str, int]] = []
    previous = np.concatenate([[np.nan], z[:-1]])
    fresh = np.zeros(len(z), dtype=bool)
    fresh[0] = True
    short = (z >= entry) & (fresh | (previous < entry))
    entries = np.flatnonzero(short | ((z <= -entry) & (fresh | (previous > -entry)))).tolist()
    closes = {1: np.flatnonzero((z <= -stop) | (z >= -exit_)).tolist(),
              -1: np.flatnonzero((-z <= -stop) | (-z >= -exit_)).tolist()}
    at, position = 0, 0
    while True:
        found = entries if position == 0 else closes[position]
        index = bisect_left(found, at)
        if index == len(found):
            return decided
        at = found[index]
        if position == 0:
            position = -1 if short[at] else 1
            reason = "entry-short" if position < 0 else "entry-long"
        else:
            reason = "stop" if position * z[at] <= -stop else "exit"
            position = 0
        decided.append((at, reason, position))
        at += 1


def _series(recording: Recording, coin: str) -> tuple[np.ndarray, np.ndarray]:
    """Return a coin's bar close times (its replay steps) and closes."""
    bars = recording.bars[coin]
    return (np.fromiter(map(_OPEN, bars), np.int64, len(bars)) + recording.interval_ms,
            np.fromiter(map(_CLOSE, bars), np.float64, len(bars)))


class _Rules(AssetRules):
    """`AssetRules` remembering each answer: a run asks for the same few sizes and prices again and again."""

    def __init__(self, decimals: dict[str, int]) -> None:
        super().__init__(decimals)
        self.sizes: dict[tuple[str, float], float] = {}
        self.prices: dict[tuple[str, float, str], float] = {}

    def size(self, coin: str, sz: float) -> float:
        """Return `AssetRules.size`, cached."""
        found = self.sizes.get((coin, sz))
        if found is None:
            found = self.sizes[coin, sz] = super().size(coin, sz)
        return found

    def price(self, coin: str, px: float, mode: str = "nearest") -> float:
        """Return `AssetRules.price`: at once for a price already on the grid (a recorded close), else cached."""
        if mode == "nearest" and _on_grid(px, 6 - self.decimals(coin)):
            return px
        found = self.prices.get((coin, px, mode))
        if found is None:
            found = self.prices[coin, px, mode] = super().price(coin, px, mode)
        return found


def _on_grid(px: float, px_decimals: int) -> bool:
    """Tell from its shortest text whether ``px`` is on the exchange's price grid: at most ``px_decimals``
    decimals and 5 significant figures (whole numbers from 100 000 up); then rounding leaves it as it is."""
    text = repr(px)
    if "e" in text or px <= 0:
        return False
    whole, _, decimals = text.partition(".")
    decimals = decimals.rstrip("0")
    if len(decimals) > px_decimals:
        return False
    return not decimals if px >= 1e5 else len((whole + decimals).lstrip("0")) <= 5


class _Venue:
    """Fills and funding as the in-process engine makes them, in its integer units; the desk's books."""

    def __init__(self, coins: list[str], taker_fee: float) -> None:
        self.specs = {spec.name: spec.sz_decimals for spec in default_universe().subset(coins).specs}
        self.rules = _Rules(self.specs)
        self.scales = {coin: (10 ** (6 - szd), 10**szd) for coin, szd in self.specs.items()}
        self.rate = round(taker_fee * 1e8)
        self.account = Account("0x" + "7" * 40)
        self.positions: dict[str, Position] = {}
        self.held: dict[str, float] = {}
        self.next_tid, self.next_oid = 1, FIRST_OID

    def fill(self, coin: str, signed: float, mark: float, ts: int, cloid: str) -> Fill:
        """Fill one IOC leg against the quote at the close; return the engine's fill."""
        px_scale, sz_scale = self.scales[coin]
        px, sz = self.rules.price(coin, mark), abs(signed)
        px_int, sz_int = round(px * px_scale), round(sz * sz_scale)
        position = self.positions.get(coin)
        if position is None:
            position = self.positions[coin] = Position()
        start = position.szi
        closed = apply_trade(self.account, position, sz_int if signed > 0 else -sz_int, px_int, True, 1)
        self.next_oid += 2  # the liquidity's quote, then our order
        fill = Fill(ts=ts, recv_ts=ts, id=str(self.next_tid), coin=coin, oid=self.next_oid - 1, cloid=cloid, px=px,
                    sz=sz, side="B" if signed > 0 else "A", fee=fee_of(px_int * sz_int, self.rate) / 1e6,
                    closed_pnl=closed / 1e6, crossed=True, start_position=start / sz_scale)
        self.next_tid += 1
        self.held[coin] = round(self.held.get(coin, 0.0) + signed, 10)
        if not position.szi:
            del self.positions[coin]
        return fill

    def settle(self, hour: int, oracles: dict[str, float], rates: dict[tuple[str, int], float]) -> list[FundingPayment]:
        """Charge one hour's funding on every open position, by coin name (the order the desk stores them);
        the rate as the desk reads it from the exchange's text, which prints -0 as 0 (hence ``+ 0.0``)."""
        out = []
        for coin in sorted(self.positions):
            szd, szi = self.specs[coin], self.positions[coin].szi
            rate = Decimal(repr(rates.get((coin, hour), 0.0)))
            paid = funding_paid(szi, szd, from_number(oracles[coin], 6 - szd), 6 - szd, rate)
            out.append(FundingPayment(ts=hour, recv_ts=hour, id=f"{hour}:{coin}", coin=coin, usdc=-paid / 1e6,
                                      szi=szi / 10**szd, rate=float(rounded(rate, 10)) + 0.0))
        return out


def run_vectorised(settings: Settings, recording: Recording, spreads: Sequence[tuple[str, ...]], *,
                   taker_fee: float, window: int | None = None, units: float = 1.0) -> BacktestResult:
    """Return what `run_backtest` returns for the rolling-OLS rule on ``recording``; see the module docstring.

    The caller has passed `check`; ``window`` defaults to ``strategy.zscore_window``.
    """
    strategy, capital = settings.strategy, settings.execution.capital_usd
    window = window or strategy.zscore_window
    pairs = [(legs[0], legs[1]) for legs in spreads]
    coins = sorted({coin for legs in pairs for coin in legs})
    venue = _Venue(coins, taker_fee)
    series = {coin: _series(recording, coin) for coin in recording.bars if recording.bars[coin]}
    # each coin's times are sorted: a stable (merging) sort joins the runs in linear time
    steps = np.sort(np.concatenate([times for times, _ in series.values()]
                                   + [np.fromiter((rate.ts for rate in recording.funding), np.int64)]), kind="stable")
    steps = steps[np.concatenate([[True], steps[1:] != steps[:-1]])]
    rates = {(rate.coin, rate.ts // HOUR_MS * HOUR_MS): rate.rate for rate in recording.funding}
    # each decision, in the order the replay meets them: by time, then by the leg whose bar completes the row
    decided = sorted(((found[0], max(legs), legs, found) for legs in pairs
                      for found in _decisions(legs, series, window, strategy.entry_z, strategy.exit_z, strategy.stop_z)),
                     key=lambda item: item[:2])
    result = BacktestResult([pair_name(legs) for legs in pairs], recording.start_ms, recording.end_ms, capital)
    books = _Books(venue, capital, series, steps, recording.start_ms, recording.oracles)
    acted: dict[str, float] = {}
    net: dict[str, float] = {}
    opened: dict[str, tuple[int, float]] = {}
    slippage = settings.execution.slippage_bps / 1e4
    band = settings.execution.price_band
    for _, _, legs, (ts, reason, position, b, residual, z, y, x) in decided:
        if books.hour <= ts:
            books.settle_until(ts, rates, result)
        sizes = unit_sizes(position, b, units) if position else (0.0, 0.0)
        marks = {legs[0]: y, legs[1]: x}
        signal = signal_of(legs, Row(ts, y, x), float(position), sizes, b, residual, z, reason)
        result.signals.append(signal)
        pair, before = signal.pair, acted.get(signal.pair, 0.0)
        if signal.target == before:
            continue
        rounded_sizes, refused = size_spread(legs, sizes, marks, venue.rules)
        if refused:
            continue
        plans = []
        for coin, size in zip(legs, rounded_sizes):
            target = round(size, 10)
            if target == net.get(coin, 0.0):
                continue
            net[coin] = target
            held = venue.held.get(coin, 0.0)
            delta = target - held
            sz = venue.rules.size(coin, delta)
            if sz == 0:
                continue
            cloid = cloid_for(signal.id, coin)
            result.pair_of[cloid] = pair
            plans.append((coin, sz if delta > 0 else -sz, abs(target) < abs(held) and target * held >= 0, cloid))
        acted[pair] = signal.target
        pnl_before = books.spread_pnl(legs, marks) if signal.target and pair not in opened else 0.0
        if plans and _orders_pass(venue, plans, marks, slippage, band):
            fills = [venue.fill(coin, signed, marks[coin], ts, cloid) for coin, signed, _, cloid in plans]
            books.take(sorted(fills, key=_ID), ts, marks, result)
        # the rule goes flat between positions, so a trip ends on an exit and starts on an entry
        if signal.target and pair not in opened:
            opened[pair] = (ts, pnl_before)
        elif before and not signal.target and pair in opened:
            opened_ms, start_pnl = opened.pop(pair)
            result.round_trips.append(RoundTrip(pair, opened_ms, ts, books.spread_pnl(legs, marks) - start_pnl))
    books.settle_until(int(steps[-1]), rates, result)
    return books.finish(result, steps, pairs, opened)


def _orders_pass(venue: _Venue, plans: list[tuple[str, float, bool, str]], marks: dict[str, float],
                 slippage: float, band: float) -> bool:
    """Tell whether the router sends the legs (its $10 minimum and price band at the IOC limit price).

    The limit price is worked out on the grid only for a leg near either bound; a leg the exchange
    itself would refuse at the $10 minimum (its quote under it) stops the run: only the replay models that.
    """
    for coin, signed, reducing, _ in plans:
        mark, sz = marks[coin], abs(signed)
        widest = slippage + 1e-4 + 10.0 ** (venue.specs[coin] - 6) / mark  # the limit's distance from the mark
        if (band and widest >= band) or (not reducing and sz * mark * (1 - widest) < MIN_NOTIONAL * 1.001):
            buy = signed > 0
            limit = venue.rules.price(coin, mark * (1 + slippage if buy else 1 - slippage), "up" if buy else "down")
            if band and abs(limit / mark - 1.0) > band:
                return False
            if not reducing and sz * limit < MIN_NOTIONAL:
                return False
            if not reducing and sz * venue.rules.price(coin, mark) < MIN_NOTIONAL:
                raise ConfigError(f"--vectorised: a {coin} order of {sz!r} at {mark!r} is under the exchange's $10 "
                                  "minimum at the fill price though not at its limit; only the replay models "
                                  "that, drop --vectorised")
    return True


class _Books:
    """The replay's books (`app.backtest.run`): cash and positions per fill and payment, booked per step."""

    def __init__(self, venue: _Venue, capital: float, series: dict[str, tuple[np.ndarray, np.ndarray]],
                 steps: np.ndarray, start_ms: int, recorded: Mapping[str, Sequence[tuple[int, float]]]) -> None:
        self.venue, self.capital, self.series = venue, capital, series
        self.hour = self.first_hour = (start_ms // HOUR_MS + 1) * HOUR_MS
        # for every hour the run crosses: the step that settles it (the first at or after it) and, per coin,
        # the oracle funding is charged at: the last one recorded before the hour, else the close the replay
        # marked last before that step
        hours = np.arange(self.first_hour, int(steps[-1]) + 1, HOUR_MS, dtype=np.int64)
        settling = steps[np.searchsorted(steps, hours)]
        self.settling = settling.tolist()
        self.oracles = {coin: closes[np.maximum(np.searchsorted(times, settling) - 1, 0)].tolist()
                        for coin, (times, closes) in series.items()}
        for coin, oracles in recorded.items():
            if oracles and coin in self.oracles:
                found = np.searchsorted(np.fromiter((ts for ts, _ in oracles), np.int64), hours - 1, side="right") - 1
                self.oracles[coin] = [oracles[at][1] if at >= 0 else close
                                      for at, close in zip(found.tolist(), self.oracles[coin], strict=True)]
        self.cash = capital
        self.fees = self.funding = self.traded = self.slippage = 0.0
        self.flows: dict[str, float] = {}
        self.at: list[int] = []
        self.cash_after: list[float] = []
        self.held_after: dict[str, tuple[list[int], list[float]]] = {}

    def spread_pnl(self, legs: Sequence[str], marks: dict[str, float]) -> float:
        """Return the spread's PnL so far: its legs' cash flows (fills, fees, funding) and positions at ``marks``."""
        flows, held = self.flows, self.venue.held
        first, second = legs
        return (flows.get(first, 0.0) + held.get(first, 0.0) * marks[first]
                + flows.get(second, 0.0) + held.get(second, 0.0) * marks[second])

    def take(self, fills: list[Fill], ts: int, decision: dict[str, float], result: BacktestResult) -> None:
        """Book fills as the replay does (cash, rounded positions, fees, turnover, slippage from the close)."""
        held, flows = self.venue.held, self.flows
        for fill in fills:
            coin, px, sz, fee = fill.coin, fill.px, fill.sz, fill.fee
            signed = sz if fill.side == "B" else -sz
            self.cash -= signed * px + fee
            self.fees += fee
            self.traded += sz * px
            self.slippage += signed * (px - decision[coin])
            flows[coin] = flows.get(coin, 0.0) - signed * px - fee
            times, sizes = self.held_after.setdefault(coin, ([], []))
            times.append(ts)
            sizes.append(held[coin])
            self.at.append(ts)
            self.cash_after.append(self.cash)
        result.fills += fills

    def settle_until(self, ts: int, rates: dict[tuple[str, int], float], result: BacktestResult) -> None:
        """Charge funding on the open positions for every hour up to ``ts`` not charged yet.

        The engine settles an hour at the first step at or after it, at the oracle recorded last before
        the hour, else at the one the replay marked last before that step: the close of the last bar that
        closed earlier.
        """
        while self.hour <= ts and self.venue.positions:
            index = (self.hour - self.first_hour) // HOUR_MS
            settling = self.settling[index]
            oracles = {coin: self.oracles[coin][index] for coin in self.venue.positions}
            for payment in self.venue.settle(self.hour, oracles, rates):
                self.cash += payment.usdc
                self.funding += payment.usdc
                self.flows[payment.coin] = self.flows.get(payment.coin, 0.0) + payment.usdc
                self.at.append(settling)
                self.cash_after.append(self.cash)
                result.funding.append(payment)
            self.hour += HOUR_MS
        self.hour = max(self.hour, (ts // HOUR_MS + 1) * HOUR_MS)

    def finish(self, result: BacktestResult, steps: np.ndarray, pairs: list[tuple[str, str]],
               opened: dict[str, tuple[int, float]]) -> BacktestResult:
        """Build the curves, exposure, open round trips, per-spread figures, hash and metrics."""
        at = np.asarray(self.at, dtype=np.int64)
        index = np.searchsorted(at, steps, "right") - 1
        cash = np.where(index >= 0, np.asarray(self.cash_after + [0.0])[index], self.capital)
        value, gross = np.zeros(len(steps)), np.zeros(len(steps))
        flat = np.ones(len(steps), dtype=bool)
        for coin, (times, sizes) in self.held_after.items():
            bar_times, closes = self.series[coin]
            seen = np.searchsorted(bar_times, steps, "right") - 1
            mark = np.where(seen >= 0, closes[seen], 0.0)
            held = np.asarray(sizes + [0.0])[np.searchsorted(np.asarray(times), steps, "right") - 1]
            value, gross = value + held * mark, gross + np.abs(held) * mark
            flat &= held == 0
        if len(gross) and gross.max() > self.capital:
            raise ConfigError(f"--vectorised: positions reach {gross.max():,.0f} USD gross, over "
                              f"execution.capital_usd {self.capital:,.0f}; margin is modelled by the replay only, "
                              "drop --vectorised")
        equity = cash + value
        times = steps.tolist()
        result.curve, result.gross = list(zip(times, equity.tolist())), list(zip(times, gross.tolist()))
        exposed_before = np.concatenate([[False], ~flat[:-1]])
        spans = np.diff(np.concatenate([[result.start_ms], steps]))
        exposed_ms = int(spans[exposed_before].sum())
        last = {coin: float(self.series[coin][1][-1]) for legs in pairs for coin in legs}
        for pair, (opened_ms, start_pnl) in opened.items():
            legs = tuple(pair.split("/"))
            result.round_trips.append(RoundTrip(pair, opened_ms, int(steps[-1]), self.spread_pnl(legs, last) - start_pnl))
        for legs in pairs:
            pair = pair_name(legs)
            mine = [trip.pnl for trip in result.round_trips if trip.pair == pair]
            result.per_spread[pair] = {
                "pnl": self.spread_pnl(legs, last), "fees": sum(fill.fee for fill in result.fills if fill.coin in legs),
                "funding": sum(paid.usdc for paid in result.funding if paid.coin in legs),
                "round_trips": float(len(mine)), "wins": float(sum(1 for pnl in mine if pnl > 0))}
        result.trades_hash = trades_hash(result.fills, result.funding)
        result.metrics = compute_metrics(result.curve, self.capital, [trip.pnl for trip in result.round_trips],
                                         self.traded, exposed_ms, fees=self.fees, funding=self.funding,
                                         slippage=self.slippage, arrays=(steps, equity))
        return result
