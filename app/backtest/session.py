"""A recorded paper or live session's decisions and order timing, for a backtest that replays that session.

Replaying a session's own signals (``--mode recorded``) isolates the execution: the replay's
orders can then be compared with the session's one by one, as they carry the same cloids. For
that each order must meet the book the session's met, so the replay also needs when each
order reached the venue and in which order a spread's legs went out (`SessionTiming`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from operators.orders import cloid_for
from pairflow.events import Signal
from pairflow.storage import Store
from sinks.execution import LEG_TAGS

__all__ = ["SessionTiming", "load_session"]


@dataclass
class SessionTiming:
    """When a recorded session sent each order (its desk's clock) and when it reached the venue (the venue's stamp).

    A replay sends a spread's legs in ``sent`` order (the session chose it from the book its desk
    had seen, which a replay cannot know) and shows each order the book of its ``arrived`` time
    (`sinks.book_fills.RecordedDepth`). An order that never filled has no arrival.
    """

    sent: dict[str, int] = field(default_factory=dict)
    arrived: dict[str, int] = field(default_factory=dict)


def load_session(store: Store, pairs: Sequence[str], *, start_ms: int | None = None,
                 end_ms: int | None = None) -> tuple[dict[str, list[Signal]], SessionTiming]:
    """Read a session's signals for ``pairs`` (by spread name, in the order its desk took them) and its timing.

    A signal the session traded is stamped with the time its first order reached the venue: the
    venue's stamp on the first fill of any of its orders (completions, trims and unwinds
    included, found through the router's cloid tags), else the desk's on its first order. A desk
    acts a little after it decides, busy with the previous spread's legs, and the book it met is
    the one of that moment, in the venue's time, which may trail the desk's (a venue steps its
    market every few hundred ms, and a demo freezes it before the desk stops). The desk takes
    signals one after another in time order, so no stamp goes back before the previous one's.
    """
    params = {"pairs": list(pairs), "lo": start_ms if start_ms is not None else 0,
              "hi": end_ms if end_ms is not None else 2**62}
    signal_of = {cloid_for(signal_id + tag, coin): signal_id for signal_id, coin in store.query(
        "SELECT DISTINCT signal_id, coin FROM intents FINAL WHERE pair IN %(pairs)s AND ts >= %(lo)s AND ts < %(hi)s",
        params) for tag in LEG_TAGS}
    cloids = {"cloids": list(signal_of)}
    timing = SessionTiming(
        dict(store.query("SELECT cloid, min(ts) FROM orders FINAL WHERE cloid IN %(cloids)s GROUP BY cloid", cloids)),
        dict(store.query("SELECT cloid, min(ts) FROM fills FINAL WHERE cloid IN %(cloids)s GROUP BY cloid", cloids)))
    arrived: dict[str, int] = {}
    sent: dict[str, int] = {}
    for times, first in ((timing.arrived, arrived), (timing.sent, sent)):
        for cloid, ms in times.items():
            signal_id = signal_of[cloid]
            first[signal_id] = min(ms, first.get(signal_id, ms))
    out: dict[str, list[Signal]] = {pair: [] for pair in pairs}
    latest = 0
    for row in store.select("signals", "*", "pair IN %(pairs)s AND ts >= %(lo)s AND ts < %(hi)s", params,
                            order_by="ts, id"):
        row["ts"] = latest = max(arrived.get(row["id"], sent.get(row["id"], row["ts"])), latest)
        out[row["pair"]].append(msgspec.convert(row, Signal))
    return out, timing
