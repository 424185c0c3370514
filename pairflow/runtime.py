"""Process-wide runtime settings shared by the long-running pairflow processes."""

from __future__ import annotations

import gc

__all__ = ["GC_THRESHOLDS", "tune_gc_for_throughput"]

GC_THRESHOLDS = (100_000, 50, 100)


def tune_gc_for_throughput() -> None:
    """Collect garbage less often in a process that allocates many short-lived objects.

    The ingest flow allocates millions of short-lived events and the venue
    engine an order, fills and wire dicts per request. With CPython's default
    young-generation threshold (700) the cyclic collector runs every few
    hundred of them; in the ingest profile it cost more than decoding the
    events (benchmarks/bench_engine.py measures the engine under both
    settings). Neither holds reference cycles per item, so collecting rarely
    only delays freeing actual cycles.
    `gc.freeze` first moves everything alive at startup (modules, settings)
    out of the collector's sight so the rarer full collections stay short.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
