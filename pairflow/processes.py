"""Whether a process still runs, asked of the OS by PID.

Why: files named after their writer's PID (a spill file's claim, a durable
write's temporary) may be taken back once that writer is gone, and never
while it runs. A PID the OS reuses, or a killed child not yet reaped, counts
as running: such a file is left for a later start rather than taken from a
live owner.

>>> import os
>>> running(os.getpid())
True
"""

from __future__ import annotations

import os

__all__ = ["running"]


def running(pid: int) -> bool:
    """Return True while a process with ``pid`` exists, ours to signal or not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
