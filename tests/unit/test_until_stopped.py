"""Ctrl-C (or SIGTERM) ends a stage cleanly wherever in the dataflow the signal lands."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.errors import BytewaxRuntimeError
from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.recovery import RecoveryConfig
from bytewax.outputs import DynamicSink, FixedPartitionedSink, StatefulSinkPartition, StatelessSinkPartition
from bytewax.testing import TestingSink, TestingSource

from app.runners.until_stopped import run_until_stopped, stop_signals
from pairflow.errors import ConfigError


class _InterruptedPartition(StatefulSinkPartition):
    def write_batch(self, items):
        raise KeyboardInterrupt

    def snapshot(self):
        return None


class _InterruptedPartitionedSink(FixedPartitionedSink):
    def list_parts(self):
        return ["0"]

    def build_part(self, step_id, for_part, resume_state):
        return _InterruptedPartition()


class _InterruptedWrite(StatelessSinkPartition):
    def write_batch(self, items):
        raise KeyboardInterrupt


class _InterruptedDynamicSink(DynamicSink):
    def build(self, step_id, worker_index, worker_count):
        return _InterruptedWrite()


class _FailingWrite(StatelessSinkPartition):
    def write_batch(self, items):
        raise RuntimeError("store refused the batch")


class _FailingSink(DynamicSink):
    def build(self, step_id, worker_index, worker_count):
        return _FailingWrite()


def _flow(sink) -> Dataflow:
    flow = Dataflow("interrupted")
    op.output("out", op.input("in", flow, TestingSource([("a", 1), ("b", 2)])), sink)
    return flow


@pytest.mark.parametrize("sink", [_InterruptedPartitionedSink(), _InterruptedDynamicSink()],
                         ids=["partitioned sink", "dynamic sink"])
def test_a_signal_inside_any_sink_is_a_clean_stop(sink):
    """A KeyboardInterrupt inside a partitioned sink reaches us bare; inside a dynamic one, wrapped."""
    try:
        run_until_stopped(_flow(sink), 1, timedelta(seconds=1), None)
    except KeyboardInterrupt:
        pytest.fail("the signal escaped as KeyboardInterrupt: the command would exit 130, not stop cleanly")


def test_a_real_failure_still_raises():
    with pytest.raises(BytewaxRuntimeError) as raised:
        run_until_stopped(_flow(_FailingSink()), 1, timedelta(seconds=1), None)
    assert "store refused the batch" in str(raised.value.__cause__)


class _UntilStopped(StatelessSourcePartition):
    """Emits forever, like a tailing Kafka reader, and ends its input once ``stop`` is set."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.sent = 0

    def next_batch(self):
        if self.stop.is_set():
            raise StopIteration
        self.sent += 1
        return [("a", self.sent)]


class _TailingSource(DynamicSource):
    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def build(self, step_id, worker_index, worker_count):
        return _UntilStopped(self.stop)


def test_with_a_stop_event_the_first_signal_lets_the_flow_finish_as_at_the_end_of_its_input():
    """No KeyboardInterrupt inside Bytewax (it would panic and print a Rust stack): the input ends instead."""
    stop = threading.Event()
    written: list = []
    flow = Dataflow("tailing")
    op.output("out", op.input("in", flow, _TailingSource(stop)), TestingSink(written))
    handlers = [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)]
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    run_until_stopped(flow, 1, timedelta(seconds=1), None, stop=stop)
    assert stop.is_set()
    assert written == [("a", n) for n in range(1, len(written) + 1)] and written  # every row emitted reached the sink
    assert [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)] == handlers  # given back


class _Endless(StatelessSourcePartition):
    """Emits forever and never looks at a stop event, like a flow whose input cannot end."""

    def next_batch(self):
        return [("a", 1)]


class _EndlessSource(DynamicSource):
    def build(self, step_id, worker_index, worker_count):
        return _Endless()


def test_a_second_signal_interrupts_a_flow_that_does_not_end_on_the_first():
    """The first signal only sets the stop event; when the input does not end, the second one stops the run."""
    stop = threading.Event()
    flow = Dataflow("endless")
    op.output("out", op.input("in", flow, _EndlessSource()), TestingSink([]))
    for delay, signum in ((0.3, signal.SIGTERM), (0.8, signal.SIGINT)):  # a container stop, then Ctrl-C
        threading.Timer(delay, os.kill, (os.getpid(), signum)).start()
    run_until_stopped(flow, 1, timedelta(seconds=1), None, stop=stop)
    assert stop.is_set()


@pytest.mark.parametrize("content", [b"not sqlite at all" * 10, b"SQLite format 3\x00" + b"\xff" * 200])
def test_a_damaged_recovery_partition_is_one_line_naming_the_directory(tmp_path, content: bytes) -> None:
    """Bytewax's unwrap of the SQLite error ended `pairflow run STAGE --recovery-dir` in a traceback."""
    (tmp_path / "part-0.sqlite3").write_bytes(content)
    written: list = []
    with pytest.raises(ConfigError) as raised:
        run_until_stopped(_flow(TestingSink(written)), 1, timedelta(seconds=1), RecoveryConfig(str(tmp_path)))
    assert str(raised.value).startswith(f"recovery directory {tmp_path} cannot be read (")
    assert "\n" not in str(raised.value) and written == []


@pytest.mark.parametrize("first", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signals_turns_the_first_signal_into_the_event_and_the_second_into_an_interrupt(first):
    """A command waiting on the event leaves its loop and stops its parts in order (``then`` first); only a
    second signal interrupts, and leaving gives the previous handlers back."""
    handlers = [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)]
    called = []
    with stop_signals("test", then=lambda: called.append(True)) as stop:
        os.kill(os.getpid(), first)
        assert stop.wait(5) and called == [True]
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            stop.wait(5)  # the handler runs in this thread at the next bytecode
            time.sleep(1)
    assert [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)] == handlers
