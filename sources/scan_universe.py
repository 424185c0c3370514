"""The spreads of the latest pair scan: what the strategy trades when ``strategy.universe = "pair_stats"``.

`pairflow scan` writes every candidate of a scan to ``pair_stats``, accepted
or not; the strategy wants only the accepted ones of the newest scan, best
first, with the weights and statistics the scan found (the Kalman filter
then tracks the hedge ratios live from there).
"""

from __future__ import annotations

import msgspec

from pairflow.events import PairStats
from pairflow.storage import Store

__all__ = ["latest_accepted_spreads"]


def latest_accepted_spreads(store: Store, interval: str | None = None) -> list[PairStats]:
    """Return the accepted spreads of the newest scan (of ``interval`` candles if given), by rank.

    An empty list means no scan was recorded or the newest one accepted
    nothing; the caller falls back to its configured pairs.
    """
    condition = "interval = {interval:String}" if interval else "1"
    params = {"interval": interval} if interval else {}
    newest = store.query(
        f"SELECT scan_id FROM pair_stats FINAL WHERE {condition} ORDER BY ts DESC, scan_id DESC LIMIT 1", params
    )
    if not newest:
        return []
    rows = store.select("pair_stats", where="scan_id = {scan:String} AND accepted", params={"scan": newest[0][0]},
                        order_by="rank")
    return [msgspec.convert(row, PairStats) for row in rows]
