"""The rolling-OLS z-score pair rule as vectorbt and Backtrader users would write it, and as a numpy loop.

Rule (the same as pairflow's ``--mode rolling-ols``): OLS of the first leg's
closes on the second's over the last ``window`` bars; z is the last residual
over the residuals' standard deviation (ddof 1); enter when z crosses the
entry band (long the spread below -entry), exit back inside the exit band,
stop beyond the stop band (`operators.band_rule.band_decision`); hold 1 unit
of the first leg against -round(b) of the second (no trade when that rounds
to 0, as pairflow's desk refuses a one-legged spread); fill at the bar close;
taker fee on every fill. Each engine returns its trades as
``(close time ms, leg, signed size, price)`` so bench_backtest can prove the
lists equal before it times anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

import numpy as np

from operators.band_rule import band_decision

__all__ = ["Bands", "Trade", "backtrader_trades", "numpy_loop", "rolling_ols_z", "targets", "vectorbt_trades",
           "window_z"]

Trade = tuple[int, int, float, float]


def window_z(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Return (z, b) of one window: OLS of ``y`` on ``x``, last residual over the residuals' sd (ddof 1)."""
    mx, my = x.mean(), y.mean()
    sxx = float(((x - mx) ** 2).sum())
    b = float(((x - mx) * (y - my)).sum()) / sxx if sxx > 0 else 0.0
    residuals = y - (my - b * mx) - b * x
    sd = float(np.sqrt((residuals**2).sum() / (len(y) - 1)))
    return (float(residuals[-1]) / sd if sd > 1e-12 else 0.0), b


class Bands:
    """The rule's state: position, held sizes and the previous z; `step` returns new target sizes or None."""

    def __init__(self, entry: float, exit_: float, stop: float) -> None:
        self.entry, self.exit, self.stop = entry, exit_, stop
        self.position, self.sizes, self.previous = 0, (0.0, 0.0), None

    def step(self, z: float, b: float) -> tuple[float, float] | None:
        """Fold one bar's z and hedge ratio in; return the new (first leg, second leg) sizes when they change."""
        decision = band_decision(self.position, self.previous, z, self.entry, self.exit, self.stop)
        self.previous = z
        if decision is None:
            return None
        if decision.startswith("entry"):
            self.position = 1 if decision == "entry-long" else -1
            # a hedge that rounds to 0 units would leave one leg naked: pairflow's desk refuses such a spread
            hedge = float(round(b))
            self.sizes = (float(self.position), -self.position * hedge) if hedge else (0.0, 0.0)
        else:
            self.position, self.sizes = 0, (0.0, 0.0)
        return self.sizes


def numpy_loop(ys: np.ndarray, xs: np.ndarray, times: Sequence[int], window: int, entry: float, exit_: float,
               stop: float) -> list[Trade]:
    """Return the rule's trades from a plain loop over windows (numpy per window): the baseline."""
    trades: list[Trade] = []
    bands, held = Bands(entry, exit_, stop), (0.0, 0.0)
    for t in range(window - 1, len(ys)):
        new = bands.step(*window_z(ys[t - window + 1:t + 1], xs[t - window + 1:t + 1]))
        if new is None:
            continue
        for leg, (before, after, px) in enumerate(zip(held, new, (ys[t], xs[t]))):
            if after != before:
                trades.append((times[t], leg, after - before, float(px)))
        held = new
    return trades


def rolling_ols_z(ys: np.ndarray, xs: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (z, b) per bar, NaN before the first full window, over sliding window views (vectorised)."""
    from numpy.lib.stride_tricks import sliding_window_view

    y, x = sliding_window_view(ys, window), sliding_window_view(xs, window)
    mx, my = x.mean(axis=1, keepdims=True), y.mean(axis=1, keepdims=True)
    sxx = ((x - mx) ** 2).sum(axis=1)
    b = np.where(sxx > 0, ((x - mx) * (y - my)).sum(axis=1) / np.where(sxx > 0, sxx, 1.0), 0.0)
    residuals = y - (my - b[:, None] * mx) - b[:, None] * x
    sd = np.sqrt((residuals**2).sum(axis=1) / (window - 1))
    z = np.where(sd > 1e-12, residuals[:, -1] / np.where(sd > 1e-12, sd, 1.0), 0.0)
    pad = np.full(window - 1, np.nan)
    return np.concatenate([pad, z]), np.concatenate([pad, b])


def targets(z: np.ndarray, b: np.ndarray, entry: float, exit_: float, stop: float) -> np.ndarray:
    """Return the (first leg, second leg) target sizes per bar from the band rule's state machine."""
    out = np.zeros((len(z), 2))
    bands = Bands(entry, exit_, stop)
    for t, score in enumerate(z):
        if not np.isnan(score):
            bands.step(float(score), float(b[t]))
        out[t] = bands.sizes
    return out


def vectorbt_trades(ys: np.ndarray, xs: np.ndarray, times: Sequence[int], window: int, entry: float, exit_: float,
                    stop: float, fee: float) -> tuple[list[Trade], float]:
    """Run the rule in vectorbt (`Portfolio.from_orders`, target amounts, fills at the close); return trades and PnL."""
    import pandas as pd
    import vectorbt as vbt

    z, b = rolling_ols_z(ys, xs, window)
    wanted = targets(z, b, entry, exit_, stop)
    index = pd.to_datetime(np.asarray(times), unit="ms")
    close = pd.DataFrame({"y": ys, "x": xs}, index=index)
    size = pd.DataFrame(wanted, index=index, columns=["y", "x"])
    portfolio = vbt.Portfolio.from_orders(close, size, size_type="targetamount", fees=fee, init_cash=1e9,
                                          cash_sharing=True, group_by=True, call_seq="auto", freq="1h")
    records = portfolio.orders.records_arr
    trades = [(int(times[row["idx"]]), int(row["col"]), float(row["size"]) * (1 if row["side"] == 0 else -1),
               float(row["price"])) for row in records]
    return trades, float(portfolio.total_profit())


def backtrader_trades(ys: np.ndarray, xs: np.ndarray, times: Sequence[int], window: int, entry: float, exit_: float,
                      stop: float, fee: float) -> tuple[list[Trade], float]:
    """Run the rule in Backtrader (two feeds, cheat-on-close fills at the bar close); return trades and PnL."""
    import backtrader as bt
    import pandas as pd

    index = pd.to_datetime(np.asarray(times), unit="ms")
    trades: list[Trade] = []

    class Pair(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.bands = Bands(entry, exit_, stop)

        def notify_order(self, order: bt.Order) -> None:
            if order.status == order.Completed:
                leg = 0 if order.data is self.datas[0] else 1
                stamp = int(bt.num2date(order.executed.dt).replace(tzinfo=UTC).timestamp() * 1000)
                trades.append((stamp, leg, float(order.executed.size), float(order.executed.price)))

        def next(self) -> None:
            if len(self) < window:
                return
            wanted = self.bands.step(*window_z(np.asarray(self.datas[0].close.get(size=window)),
                                               np.asarray(self.datas[1].close.get(size=window))))
            for data, size in zip(self.datas, wanted or ()):
                self.order_target_size(data=data, target=size)

    cerebro = bt.Cerebro(stdstats=False)
    for name, closes in (("y", ys), ("x", xs)):
        frame = pd.DataFrame({"open": closes, "high": closes, "low": closes, "close": closes, "volume": 1.0},
                             index=index)
        cerebro.adddata(bt.feeds.PandasData(dataname=frame), name=name)
    cerebro.addstrategy(Pair)
    cerebro.broker.setcash(1e9)
    cerebro.broker.set_coc(True)
    cerebro.broker.setcommission(commission=fee)
    cerebro.run()
    return trades, cerebro.broker.getvalue() - 1e9
