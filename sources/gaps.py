"""Record spans of market data that were missed, whether or not REST could fill them.

A WebSocket outage loses books and contexts for good (Hyperliquid keeps no
REST history of them), while candles and funding can be fetched again. Trades
have no REST history either, but the venue replays its most recent trades on
subscribe: `trade_gap` decides whether that replay covers the outage. Every
missed span becomes a `pairflow.events.Gap`: published on ``md.gaps`` through
the collector's emit callable and written to the ``gaps`` table, so analysts
and backtests can exclude (or trust) that window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from pairflow.events import TOPIC_OF, Event, Gap, Trade
from pairflow.logs import get_logger
from pairflow.metrics import counter

if TYPE_CHECKING:
    from pairflow.storage import BatchWriter

__all__ = [
    "REPLAY_COVERS",
    "UNFILLABLE_STREAMS",
    "Emit",
    "GapRecorder",
    "LastTrade",
    "TradeGap",
    "interval_ms",
    "trade_gap",
]

UNFILLABLE_STREAMS = ("l2Book", "bbo", "activeAssetCtx")
REPLAY_COVERS = "covered by the trades replayed on resubscribe"

_GAPS = counter(
    "pairflow_collector_gaps", "Missed spans of a stream, by whether REST filled them.", ["stream", "filled"]
)
_UNITS_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "M": 2_592_000_000}
_log = get_logger(__name__)

Emit = Callable[[str, str, Event], None]
"""The collector's output: ``emit(topic, key, event)``."""


def interval_ms(interval: str) -> int:
    """Return the length of a candle interval such as ``'1m'`` or ``'4h'`` in milliseconds.

    ``'1M'`` counts as 30 days; it is only used to size REST pages.

    Raises
    ------
    ValueError
        When the interval is not ``<int><m|h|d|w|M>``.
    """
    count, unit = interval[:-1], interval[-1:]
    if not count.isdigit() or unit not in _UNITS_MS:
        raise ValueError(f"candle interval {interval!r} is not <number><m|h|d|w|M>")
    return int(count) * _UNITS_MS[unit]


class LastTrade(NamedTuple):
    """The newest trade time emitted before a drop and the ids of every trade emitted at that time."""

    ts: int
    ids: frozenset[str]


class TradeGap(NamedTuple):
    """The trade gap of one outage: its span, whether the replay filled it, and why."""

    start_ts: int
    end_ts: int
    filled: bool
    reason: str


def trade_gap(outage_start: int, outage_end: int, last: LastTrade | None, replay: Sequence[Trade] | None) -> TradeGap:
    """Decide whether the trades replayed on resubscribe cover an outage, and which span they miss.

    The venue replays its most recent trades, so a replay holds every trade
    from its oldest one up to the resubscription. It covers the outage when it
    reaches back into what was already emitted: a replayed trade older than
    ``last``, or one of ``last.ids`` at its time. With no trade emitted before
    the drop (an idle coin) it must start before ``outage_start`` instead —
    strictly, since a trade in that very millisecond may have been lost.
    Trades are matched by id, not by time alone, because several trades can
    share a millisecond and the replay may begin among them.

    Parameters
    ----------
    outage_start, outage_end
        Time of the last frame before the drop and of the resubscription (ms).
    last
        The last trades emitted before the drop, or None when the coin had none.
    replay
        The trades of the coin's first ``trades`` frame after resubscribing,
        or None when none arrived in time.

    Returns
    -------
    TradeGap
        Filled over ``[outage_start, outage_end]`` when covered. Otherwise
        unfilled from the outage start (from ``last.ts`` when the replay
        begins even earlier, which a trade lost in flight causes) to the oldest
        replayed trade's time, inclusive because trades sharing that
        millisecond but preceding it were not replayed; over the whole outage
        when nothing was replayed.
    """
    if not replay:
        return TradeGap(outage_start, outage_end, False, "no trades replayed on resubscribe")
    oldest = min(trade.ts for trade in replay)
    if last is None:
        covered = oldest < outage_start
    else:
        covered = any(trade.ts < last.ts or (trade.ts == last.ts and trade.id in last.ids) for trade in replay)
    if covered:
        return TradeGap(outage_start, outage_end, True, REPLAY_COVERS)
    start = outage_start if last is None or oldest >= outage_start else last.ts
    reason = f"trades replayed on resubscribe reach back only to {oldest} ({len(replay)} replayed)"
    return TradeGap(start, oldest, False, reason)


class GapRecorder:
    """Publish and store gaps.

    Parameters
    ----------
    emit
        The collector's output, ``emit(topic, key, event)``.
    writer
        A `pairflow.storage.BatchWriter` for the ``gaps`` table, or None when
        gaps only go to the topic.
    """

    def __init__(self, emit: Emit, writer: BatchWriter | None = None) -> None:
        self.emit = emit
        self.writer = writer
        self.recorded: list[Gap] = []

    def record(
        self, coin: str, stream: str, start_ts: int, end_ts: int, filled: bool, now_ms: int, reason: str = ""
    ) -> Gap:
        """Build the gap event for ``stream`` of ``coin`` over ``[start_ts, end_ts]``, publish and store it."""
        gap = Gap(
            id=f"{coin}:{stream}:{start_ts}",
            coin=coin,
            stream=stream,
            start_ts=start_ts,
            end_ts=end_ts,
            filled=filled,
            reason=reason,
            ts=now_ms,
            recv_ts=now_ms,
        )
        self.recorded.append(gap)
        _GAPS.labels(stream, str(filled).lower()).inc()
        _log.warning(
            "market data gap", coin=coin, stream=stream, start_ts=start_ts, end_ts=end_ts, filled=filled, reason=reason
        )
        self.emit(TOPIC_OF[Gap], coin, gap)
        if self.writer is not None:
            self.writer.add(gap)
        return gap
