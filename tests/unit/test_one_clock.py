"""Only pairflow/clock.py reads the wall clock; everything else asks an injected clock (DESIGN §1, Time).

A direct ``time.time()`` or ``datetime.now()`` in a flow makes replays depend on when
they run. Monotonic timers (timeouts, pacing) are not event time and are allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("pairflow", "operators", "sources", "sinks", "flows", "venue", "app", "api", "dashboards")
WALL_READS = {("time", "time"), ("time", "time_ns"), ("datetime", "now"), ("datetime", "utcnow"),
              ("datetime", "today"), ("date", "today")}
# Wall-clock reads that are not the time of any event, each with why.
ALLOWED = {
    "pairflow/clock.py": "the one clock",
    "pairflow/storage/spill.py": "orders spill file names",
    "venue/persistence.py": "names the file a corrupt snapshot is moved to",
    "sources/queue_source.py": "tells Bytewax when to poll again (its API takes a wall datetime)",
    "sources/journal.py": "tells Bytewax when to poll again (its API takes a wall datetime)",
}


def wall_clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if (name, node.func.attr) in WALL_READS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}.{node.func.attr}()")
    return found


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    reads = [
        read
        for room in ROOMS
        for path in sorted((ROOT / room).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in ALLOWED
        for read in wall_clock_reads(path)
    ]
    assert reads == [], "read time from an injected pairflow.clock.Clock instead:\n" + "\n".join(reads)


def test_the_check_sees_a_wall_clock_read() -> None:
    assert wall_clock_reads(ROOT / "flows" / "decode.py") == []
    (read,) = wall_clock_reads(ROOT / "pairflow" / "clock.py")
    assert read.startswith("pairflow/clock.py:") and read.endswith(" time.time_ns()")
