"""The strategy's spread universe read back from pair_stats: newest scan, accepted rows only, by rank."""

from __future__ import annotations

from pairflow.events import PairStats
from pairflow.storage import BatchWriter, Store
from sources.scan_universe import latest_accepted_spreads


def row(scan: str, ts: int, pair: str, rank: int, accepted: bool, interval: str = "1h") -> PairStats:
    a, b = pair.split("/")
    return PairStats(id=f"{scan}:{pair}", ts=ts, recv_ts=ts, pair=pair, coin_a=a, coin_b=b, window_start=0,
                     window_end=1, correlation=0.9, hedge_ratio=1.2, eg_pvalue=0.001, rank=rank, scan_id=scan,
                     coins=(a, b), weights=(1.0, -1.2), interval=interval, accepted=accepted,
                     reason="" if accepted else "Engle-Granger q-value 0.3 above FDR 0.05")


def test_newest_scan_accepted_spreads_by_rank(store: Store) -> None:
    assert latest_accepted_spreads(store) == []
    rows = [row("old", 1_000, "BTC/ETH", 1, True), row("new", 2_000, "SOL/AVAX", 2, True),
            row("new", 2_000, "ETH/SOL", 1, True), row("new", 2_000, "BTC/DOGE", 3, False),
            row("daily", 1_500, "LTC/XRP", 1, True, interval="1d")]
    with BatchWriter(store, "pair_stats", background=False) as writer:
        writer.add_many(rows + rows[:2])  # a replayed write must not duplicate
    spreads = latest_accepted_spreads(store)
    assert spreads == [rows[2], rows[1]]
    assert [s.pair for s in latest_accepted_spreads(store, interval="1d")] == ["LTC/XRP"]
