"""Two simulated hours of `pairflow demo` on the planted cointegrated pair: positions open and close, and orders,
fills, funding and PnL in chDB agree with the venue account to the cent (the run is the `trading_demo` fixture)."""

import re
from decimal import Decimal
from pathlib import Path

from pairflow.config import StorageSettings
from pairflow.storage import connect
from tests.integration.api_support import FinishedDemo
from venue.persistence import SnapshotStore

CAPITAL = 100_000.0


def test_simulated_hours_open_and_close_positions_and_the_pnl_is_the_venue_accounts(
    trading_demo: FinishedDemo, tmp_path: Path
) -> None:
    data = trading_demo.data_dir
    account = re.search(r"paper account (0x[0-9a-fA-F]{40})", trading_demo.stdout).group(1)
    assert "positions and PnL" in trading_demo.stdout
    assert "var_hist 95%" in trading_demo.stdout and "es_hist 99%" in trading_demo.stdout  # the screen's risk rows

    state = SnapshotStore(data / "venue").load()
    engine = state.engine
    venue_fills = engine.user_fills(account)
    venue_state = engine.clearinghouse_state(account)
    venue_funding = engine.user_funding(account, 0)
    with connect(StorageSettings(dsn=f"chdb://{data / 'chdb'}", spill_dir=tmp_path / "spill")) as store:
        orders = store.query_dicts("SELECT cloid, status, reason, sz, filled_sz, avg_px FROM orders FINAL")
        fills = store.query_dicts("SELECT id, cloid, closed_pnl, fee, side, sz, px FROM fills FINAL")
        funding = store.query("SELECT sum(usdc), count() FROM funding_payments FINAL")[0]
        portfolio = store.query_dicts(
            "SELECT argMax(realized_pnl, ts) AS r, argMax(fees, ts) AS f, argMax(funding, ts) AS fu"
            " FROM pnl FINAL WHERE scope = 'portfolio'")[0]
        intents = store.count("intents")
        trips = store.query("SELECT coin, countIf(szi != 0), countIf(szi = 0) FROM positions FINAL"
                            " WHERE startsWith(id, 'desk:') GROUP BY coin")
        held = dict(store.query("SELECT coin, argMax(szi, ts) FROM positions FINAL WHERE startsWith(id, 'desk:')"
                                " GROUP BY coin"))
        # Risk rows come once a minute of market time, and at once when what is held changes: a row less than
        # a minute after the one before is one of those (at 240x, fills and bars are too far apart in market
        # time to pair them up).
        risk_times = [row[0] for row in store.query("SELECT DISTINCT ts FROM risk_metrics FINAL ORDER BY ts")]
        unstamped = store.query("SELECT (SELECT count() FROM pnl WHERE recv_ts = 0) + (SELECT count() FROM alerts"
                                " WHERE recv_ts = 0) + (SELECT count() FROM risk_metrics WHERE recv_ts = 0)")[0][0]
    sent = [order for order in orders if order["status"] != "rejected" or "asset=" in order["reason"]]
    assert sent and intents > 0
    # Every fill of the account reached the table once, and only fills of orders we sent.
    assert sorted(f["id"] for f in fills) == sorted(str(f.tid) for f in venue_fills)
    assert {f["cloid"] for f in fills} <= {o["cloid"] for o in orders}
    # Each order's filled size is its fills' sum (never twice it, whichever paths reported them) at their average.
    for order in orders:
        own = [f for f in fills if f["cloid"] == order["cloid"]]
        filled = sum(f["sz"] for f in own)
        assert order["filled_sz"] <= order["sz"] + 1e-9 and abs(order["filled_sz"] - filled) < 1e-9, (order, own)
        if own:
            vwap = sum(f["sz"] * f["px"] for f in own) / filled
            assert abs(order["avg_px"] - vwap) <= 1e-9 * vwap, (order, own)
    assert len(venue_fills) >= 4  # at least one spread opened and closed: two legs each way
    assert {coin for coin, opened, closed in trips if opened and closed} == {"ETH", "SOL"}
    assert funding[1] == len(venue_funding)
    # Our average-cost PnL is the venue's closedPnl, and the account's change is fills + fees + funding.
    closed = sum(Decimal(str(f["closed_pnl"])) for f in fills)
    fees = sum(Decimal(str(f["fee"])) for f in fills)
    assert abs(Decimal(str(portfolio["r"])) - closed) < Decimal("0.01")
    assert abs(Decimal(str(portfolio["f"])) - fees) < Decimal("0.01")
    # The desk wrote its position after every fill: the last one per coin is the venue's; every row has a recv_ts.
    assert {coin: szi for coin, szi in held.items() if szi} == {
        p.coin: float(p.szi) for p in venue_state.positions if p.szi}
    assert unstamped == 0
    assert min(later - earlier for earlier, later in zip(risk_times, risk_times[1:])) < 60_000
    unrealized = sum(p.unrealized_pnl for p in venue_state.positions)
    change = venue_state.margin_summary.account_value - Decimal(str(CAPITAL)) - unrealized
    ours = Decimal(str(portfolio["r"])) - Decimal(str(portfolio["f"])) + Decimal(str(portfolio["fu"]))
    assert abs(change - ours) < Decimal("0.01"), (change, ours)
