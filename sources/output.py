"""The collector's output: every event goes to the injected ``emit`` and is counted.

``emit(topic, key, event)`` is a `sinks.kafka.KafkaSink` in broker mode and
the embedded flow's input in embedded mode, so no part of the collector knows
where its events end up. This module also counts what came in, what went out
and what was skipped as malformed, both as Prometheus metrics and as plain
counters the tests and the CLI read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from pairflow.events import TOPIC_OF, Event
from pairflow.logs import get_logger
from pairflow.metrics import COLLECTOR_LAST_EVENT, COLLECTOR_MALFORMED, COLLECTOR_MESSAGES_IN, COLLECTOR_MESSAGES_OUT

__all__ = ["Emit", "Output"]

Emit = Callable[[str, str, Event], None]
"""The collector's output: ``emit(topic, key, event)``; key is the coin (``"*"`` for the fee schedule)."""

_log = get_logger("sources.collector")
_RAW_SHOWN = 500
# Events on these topics say something about the stream, not the market: they do not count as data.
_NOT_DATA = frozenset({"md.gaps", "md.fees", "md.delistings"})


class Output:
    """Emit events and keep the collector's counts.

    Parameters
    ----------
    emit
        Where events go. Whatever it raises propagates: a sink that fails stops
        the collector instead of silently losing events.
    """

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self.frames_in: Counter[str] = Counter()
        self.events_out: Counter[str] = Counter()
        self.malformed: Counter[str] = Counter()

    def received(self, channel: str) -> None:
        """Count one frame or REST answer of ``channel``."""
        self.frames_in[channel] += 1
        COLLECTOR_MESSAGES_IN.labels(channel).inc()

    def emit(self, event: Event) -> None:
        """Hand ``event`` to emit on its topic, keyed by its coin."""
        topic = TOPIC_OF[type(event)]
        self._emit(topic, getattr(event, "coin", "*"), event)
        self.events_out[topic] += 1
        coin = getattr(event, "coin", "")
        if coin and topic not in _NOT_DATA:
            COLLECTOR_LAST_EVENT.labels(coin).set_to_current_time()
        COLLECTOR_MESSAGES_OUT.labels(topic).inc()

    def skip(self, channel: str, raw: str, reason: str) -> None:
        """Count and log a frame or answer that could not be used, with the start of its raw text."""
        self.malformed[channel] += 1
        COLLECTOR_MALFORMED.labels(channel).inc()
        _log.error("skipped malformed market data", channel=channel, reason=reason, raw=raw[:_RAW_SHOWN])
