"""A recorded session read back for a replay: signals stamped at their orders' arrival, in the desk's order."""

from __future__ import annotations

from app.backtest.session import load_session
from operators.orders import cloid_for
from pairflow.events import Fill, Order, OrderIntent, Signal
from pairflow.storage import BatchWriter, Store


def _signal(ts: int) -> Signal:
    return Signal(ts=ts, id=f"ETH/SOL:{ts}", pair="ETH/SOL", hedge_ratio=1.0, spread=0.0, zscore=2.0, target=1.0)


def _order(cloid: str, coin: str, sent: int, filled: int | None) -> tuple[Order, list[Fill]]:
    order = Order(ts=sent, id=cloid, coin=coin, cloid=cloid, oid=1, is_buy=True, sz=1.0, limit_px=10.0,
                  status="filled" if filled else "canceled")
    return order, [Fill(ts=filled, id=f"{cloid}:{n}", coin=coin, oid=1, cloid=cloid, px=10.0, sz=0.5, side="B",
                        fee=0.0, closed_pnl=0.0, crossed=True) for n in (1, 2)] if filled else []


def test_signals_come_at_their_first_orders_arrival_never_overtaking_each_other(store: Store) -> None:
    """Traded: the venue's stamp of the first fill of any of its orders (here before the desk's clock, and a
    completion's when the first order did not fill); untraded: not before the one taken before it."""
    intents, orders = [], []
    for signal_ts, coin, tag, sent, filled in ((1_000, "ETH", "", 5_100, 4_750), (1_000, "SOL", "", 5_300, 5_250),
                                               (3_000, "ETH", "", 6_000, None), (3_000, "ETH", ":complete", 6_100, 5_750),
                                               (4_000, "SOL", "", 7_000, None)):
        signal_id = f"ETH/SOL:{signal_ts}"
        if not tag:
            intents.append(OrderIntent(ts=signal_ts, id=cloid_for(signal_id, coin), coin=coin, pair="ETH/SOL",
                                       signal_id=signal_id, is_buy=True, sz=1.0, limit_px=10.0))
        orders.append(_order(cloid_for(signal_id + tag, coin), coin, sent, filled))
    for table, rows in (("signals", [_signal(ts) for ts in (1_000, 2_000, 3_000, 4_000, 9_000)]), ("intents", intents),
                        ("orders", [order for order, _ in orders]), ("fills", [f for _, fills in orders for f in fills])):
        with BatchWriter(store, table, background=False) as writer:
            writer.add_many(rows)

    signals, timing = load_session(store, ["ETH/SOL"])
    assert [s.ts for s in signals["ETH/SOL"]] == [4_750, 4_750, 5_750, 7_000, 9_000]
    assert timing.sent == {order.cloid: order.ts for order, _ in orders}
    assert timing.arrived == {fills[0].cloid: fills[0].ts for _, fills in orders if fills}
