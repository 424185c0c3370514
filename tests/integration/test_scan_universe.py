"""The strategy's spread universe read back from pair_stats: newest scan, accepted rows only, by rank."""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, given, settings, strategies as st

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


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pvalue=st.none() | st.floats(min_value=0.0, max_value=1.0), basket=st.booleans())
def test_a_spread_round_trips_through_json_and_the_store_with_or_without_a_p_value(
    store: Store, pvalue: float | None, basket: bool
) -> None:
    coins = ("AAVE", "UNI", "LINK") if basket else ("ETH", "SOL")
    scan = f"s{pvalue}-{basket}"
    spread = msgspec.structs.replace(
        row(scan, 3_000, "/".join(coins[:2]), 1, True), pair="/".join(coins), coins=coins,
        weights=(1.0, -0.5, -0.4)[:len(coins)], kind="basket" if basket else "pair", eg_pvalue=pvalue,
    )
    assert msgspec.json.decode(msgspec.json.encode(spread), type=PairStats) == spread
    with BatchWriter(store, "pair_stats", background=False) as writer:
        writer.add_many([spread])
    assert latest_accepted_spreads(store) == [spread]
    store.command("TRUNCATE TABLE pair_stats")
