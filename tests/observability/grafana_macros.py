"""Expand the Grafana ClickHouse data source's SQL macros the way the plugin does, so panel SQL runs on chDB.

The expansions follow the plugin's documented macros (v4): second-precision
filters use ``toDateTime(<epoch s>)``, millisecond ones
``fromUnixTimestamp64Milli(<epoch ms>)``, and intervals ``toStartOfInterval``.
"""

from __future__ import annotations

import re

__all__ = ["expand_macros"]

_MACRO = re.compile(r"\$__(\w+)")


def _arguments(sql: str, start: int) -> tuple[list[str], int]:
    """Parse ``(a, b)`` at ``sql[start]``; return the arguments and the index after ``)``."""
    if start >= len(sql) or sql[start] != "(":
        return [], start
    depth, current, args = 0, "", []
    for index in range(start, len(sql)):
        char = sql[index]
        if char == "(":
            depth += 1
            if depth == 1:
                continue
        elif char == ")":
            depth -= 1
            if depth == 0:
                args.append(current.strip())
                return [arg for arg in args if arg], index + 1
        elif char == "," and depth == 1:
            args.append(current.strip())
            current = ""
            continue
        current += char
    raise ValueError(f"unbalanced parentheses after macro at {start}")


def expand_macros(sql: str, from_ms: int, to_ms: int, interval_s: int = 1) -> str:
    """Return ``sql`` with every ``$__macro`` replaced for the range ``[from_ms, to_ms]``.

    >>> expand_macros("WHERE $__timeFilter(time) GROUP BY $__timeInterval(time)", 1_000, 61_000, 30)
    'WHERE time >= toDateTime(1) AND time <= toDateTime(61) GROUP BY toStartOfInterval(toDateTime(time), INTERVAL 30 second)'

    Raises
    ------
    ValueError
        For a macro the plugin does not have, or a wrong argument count.
    """
    seconds = {"from": f"toDateTime({from_ms // 1000})", "to": f"toDateTime({to_ms // 1000})"}
    millis = {"from": f"fromUnixTimestamp64Milli({from_ms})", "to": f"fromUnixTimestamp64Milli({to_ms})"}
    interval = max(int(interval_s), 1)
    out, position = [], 0
    for match in _MACRO.finditer(sql):
        if match.start() < position:
            continue
        name = match[1]
        args, end = _arguments(sql, match.end())
        if name in ("timeFilter", "timeFilter_ms", "timeInterval", "timeInterval_ms") and len(args) != 1:
            raise ValueError(f"$__{name} takes one column, got {len(args)}")
        bounds = millis if name.endswith("_ms") else seconds
        if name in ("timeFilter", "timeFilter_ms"):
            text = f"{args[0]} >= {bounds['from']} AND {args[0]} <= {bounds['to']}"
        elif name == "timeInterval":
            text = f"toStartOfInterval(toDateTime({args[0]}), INTERVAL {interval} second)"
        elif name == "timeInterval_ms":
            text = f"toStartOfInterval(toDateTime64({args[0]}, 3), INTERVAL {interval * 1000} millisecond)"
        elif name in ("fromTime", "toTime", "fromTime_ms", "toTime_ms"):
            text, end = bounds[name.split("Time")[0]], match.end()
        elif name == "interval_s":
            text, end = str(interval), match.end()
        else:
            raise ValueError(f"unknown Grafana ClickHouse macro $__{name}")
        out.append(sql[position : match.start()])
        out.append(text)
        position = end
    out.append(sql[position:])
    return "".join(out)
