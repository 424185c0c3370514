"""The in-process queue source (embedded mode) says when items wait and when it has handed on all of them."""

from __future__ import annotations

import pytest

from pairflow.events import Trade
from sources.progress import ReadProgress
from sources.queue_source import QueueSource

AT_END = ("queue", ReadProgress("queue", None, at_end=True), None, None)
WAITING = ("queue", ReadProgress("queue", None, at_end=False), None, None)


def trade(tid: int) -> Trade:
    return Trade(id=f"BTC:{tid}", coin="BTC", ts=1_000 + tid, px=100.0, sz=1.0, side="B", tid=tid)


def test_a_queue_that_falls_behind_says_so_and_says_when_it_caught_up() -> None:
    """A flow behind its collector must not close bars on the clock: the queue tells it items wait."""
    source = QueueSource(batch_size=2, report_progress=True)
    partition = source.build("input", 0, 1)
    assert partition.next_batch() == [AT_END]
    for tid in range(3):
        source.emit("md.trades", "BTC", trade(tid))
    assert partition.next_batch() == [("md.trades", trade(0), None, None), ("md.trades", trade(1), None, None), WAITING]
    assert partition.next_batch() == [("md.trades", trade(2), None, None), AT_END]
    assert partition.next_batch() == []
    source.close()
    with pytest.raises(StopIteration):
        partition.next_batch()


def test_without_report_progress_only_the_items_go_through() -> None:
    source = QueueSource(batch_size=2)
    partition = source.build("input", 0, 1)
    source.emit("md.trades", "BTC", trade(0))
    assert partition.next_batch() == [("md.trades", trade(0), None, None)]
    assert partition.next_batch() == []
