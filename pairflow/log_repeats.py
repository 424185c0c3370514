"""Let a repeating log line through once per window, with the count of the repeats it stood for.

Why: librdkafka retries a broker that is down every few milliseconds and
logs each failed connect (``FAIL ... Connection refused``); routed through
structlog (the ``librdkafka`` logger) that was about a hundred identical
lines in the five seconds before a command's one error line, and a line per
retry for as long as a broker outage lasts. The first line of each kind
still goes out at once, so nothing new is hidden; its repeats within
``window_s`` are counted, and the next line of that kind after the window
carries ``repeated=N``. A line of a kind that differs only in librdkafka's
own timings and counts ("after 3ms", "(4 identical error(s) suppressed)") is
the same kind. Times are the records' own (``LogRecord.created``).

Examples
--------
>>> repeats = RepeatFilter(window_s=60.0)
>>> def record(message, at):
...     line = logging.LogRecord("librdkafka", logging.ERROR, "", 0, message, None, None)
...     line.created = at
...     return line
>>> refused = "Connect to ipv4#127.0.0.1:9 failed: Connection refused (after {}ms in state CONNECT)"
>>> [repeats.filter(record(refused.format(ms), at)) for ms, at in [(0, 0.0), (1, 0.1), (0, 0.2)]]
[True, False, False]
>>> after = record(refused.format(2), 61.0)
>>> repeats.filter(after), after.repeated
(True, 2)
"""

from __future__ import annotations

import logging
import re

__all__ = ["RepeatFilter"]

# librdkafka's own varying parts of an otherwise identical line.
_VARYING = re.compile(r"\(after \d+ms in state \w+\)|\(\d+ identical error\(s\) suppressed\)")
_KINDS_KEPT = 1_000


class RepeatFilter(logging.Filter):
    """Pass the first line of each kind per ``window_s`` seconds; the next one passed says how many were held."""

    def __init__(self, window_s: float = 60.0) -> None:
        super().__init__()
        self.window_s = window_s
        # kind -> [time of the last line passed, repeats held since]
        self._kinds: dict[str, list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """Return whether ``record`` goes out; one that does after held repeats gets ``repeated``, their count."""
        kind = _VARYING.sub("", record.getMessage())
        seen = self._kinds.get(kind)
        if seen is not None and record.created - seen[0] < self.window_s:
            seen[1] += 1
            return False
        if seen is None and len(self._kinds) >= _KINDS_KEPT:
            self._kinds.clear()
        if seen is not None and seen[1]:
            record.repeated = int(seen[1])
        self._kinds[kind] = [record.created, 0]
        return True
