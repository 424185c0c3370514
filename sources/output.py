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
from pairflow.metrics import counter

__all__ = ["Emit", "Output"]

Emit = Callable[[str, str, Event], None]
"""The collector's output: ``emit(topic, key, event)``; key is the coin (``"*"`` for the fee schedule)."""

_log = get_logger("sources.collector")
_IN = counter("pairflow_collector_messages_in", "WebSocket frames and REST answers received.", ["channel"])
_OUT = counter("pairflow_collector_messages_out", "Events handed to emit.", ["topic"])
_MALFORMED = counter(
    "pairflow_collector_malformed", "Frames or records skipped because they could not be parsed.", ["channel"]
)
_RAW_SHOWN = 500


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
        _IN.labels(channel).inc()

    def emit(self, event: Event) -> None:
        """Hand ``event`` to emit on its topic, keyed by its coin."""
        topic = TOPIC_OF[type(event)]
        self._emit(topic, getattr(event, "coin", "*"), event)
        self.events_out[topic] += 1
        _OUT.labels(topic).inc()

    def skip(self, channel: str, raw: str, reason: str) -> None:
        """Count and log a frame or answer that could not be used, with the start of its raw text."""
        self.malformed[channel] += 1
        _MALFORMED.labels(channel).inc()
        _log.error("skipped malformed market data", channel=channel, reason=reason, raw=raw[:_RAW_SHOWN])
