"""One member of an ingest cluster whose md.trades readers stall while records still wait: a test-only launcher.

``python -m tests.support.staggered_ingest ingest --brokers B --dead-letter-dir D --cluster A0,A1 -i N [--chunk C]
[--stall S]`` runs what ``pairflow run ingest --until-end --cluster A0,A1 -i N`` runs (`flows.ingest.ingest_dataflow`
publishing on md.bars, storing nothing) on a source that staggers delivery the same way every time: each md.trades
partition hands its records on ``C`` at a time, and after its first ``C`` it hands on nothing for ``S`` seconds of wall
time while the rest of its backlog waits. A slow or CPU-starved cluster member does that at random; here it is
certain, so a test can show the bars do not depend on it. Each stall is written to ``stalls.log`` in the working
directory (topic, partition, records waiting), so the test can check it happened mid-stream.
"""

from __future__ import annotations

import argparse
import time
from collections import deque
from datetime import timedelta
from pathlib import Path
from typing import Any

from bytewax.inputs import StatefulSourcePartition

from app.runners.until_stopped import run_until_stopped
from flows.ingest import LOG_START, IngestRun, ingest_dataflow
from pairflow.config import Settings
from pairflow.events import MARKET_TOPICS
from sources.kafka_source import CONSUMER_CONFIG, MarketDataSource, RawRecord
from sources.progress import ReadProgress

STALLS = Path("stalls.log")


class _Staggered(StatefulSourcePartition[RawRecord, Any]):
    def __init__(self, inner: StatefulSourcePartition, name: str, chunk: int, stall_s: float) -> None:
        self._inner = inner
        self._name = name
        self._chunk = chunk
        self._stall_s = stall_s
        self._waiting: deque[RawRecord] = deque()
        self._stall_until: float | None = None
        self._stalled = False

    def next_batch(self) -> list[RawRecord]:
        if self._stall_until is not None:
            if time.monotonic() < self._stall_until:
                return []
            self._stall_until = None
        if not self._waiting:
            fetched = self._inner.next_batch()
            # The reader says its records wait as it fetches them, not once the last of them is handed on.
            waiting = [record for record in fetched if type(record[1]) is ReadProgress and not record[1].at_end]
            self._waiting.extend(waiting + [record for record in fetched if record not in waiting])
        batch = [self._waiting.popleft() for _ in range(min(self._chunk, len(self._waiting)))]
        if batch and self._waiting and not self._stalled:
            self._stalled = True
            self._stall_until = time.monotonic() + self._stall_s
            with STALLS.open("a") as log:
                log.write(f"{self._name} stalled {self._stall_s} s with {len(self._waiting)} records waiting\n")
        return batch

    def snapshot(self) -> Any:
        offsets = [offset for _, _, _, offset in self._waiting if offset is not None]
        return offsets[0] if offsets else self._inner.snapshot()

    def close(self) -> None:
        self._inner.close()


class StaggeredSource(MarketDataSource):
    """`sources.kafka_source.MarketDataSource` whose md.trades partitions are staggered as the module says."""

    def __init__(self, *args: Any, chunk: int, stall_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chunk = chunk
        self._stall_s = stall_s

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> StatefulSourcePartition:
        """Build the reader of one ``<partition>-<topic>`` part, staggered when it is one of md.trades."""
        reader = super().build_part(step_id, for_part, resume_state)
        if not for_part.endswith("-md.trades"):
            return reader
        return _Staggered(reader, for_part, self._chunk, self._stall_s)


def main() -> None:
    """Run this member until every partition is read."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stage", choices=["ingest"])
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--dead-letter-dir", type=Path, required=True)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("-i", "--process-id", type=int, required=True)
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--stall", type=float, default=4.5)
    options = parser.parse_args()
    addresses = options.cluster.split(",")
    settings = Settings()
    settings.broker = settings.broker.model_copy(update={"bootstrap_servers": options.brokers})
    source = StaggeredSource(
        options.brokers.split(","), list(MARKET_TOPICS), tail=False, add_config=dict(CONSUMER_CONFIG),
        batch_size=10_000, report_progress=True, chunk=options.chunk, stall_s=options.stall,
    )
    flow = ingest_dataflow(settings, source, options.dead_letter_dir, workers=len(addresses), publish_bars=True,
                           store=False, run=IngestRun(seeds=LOG_START))
    run_until_stopped(flow, 1, timedelta(seconds=2), None, process_id=options.process_id, addresses=addresses)


if __name__ == "__main__":
    main()
