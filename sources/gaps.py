"""Record spans of market data that were missed, whether or not REST could fill them.

A WebSocket outage loses trades, books and contexts for good (Hyperliquid
keeps no REST history of them), while candles and funding can be fetched
again. Every missed span becomes a `pairflow.events.Gap`: published on
``md.gaps`` through the collector's emit callable and written to the ``gaps``
table, so analysts and backtests can exclude (or trust) that window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pairflow.events import TOPIC_OF, Event, Gap
from pairflow.logs import get_logger
from pairflow.metrics import counter

if TYPE_CHECKING:
    from pairflow.storage import BatchWriter

__all__ = ["UNFILLABLE_STREAMS", "Emit", "GapRecorder", "interval_ms"]

UNFILLABLE_STREAMS = ("trades", "l2Book", "bbo", "activeAssetCtx")

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
