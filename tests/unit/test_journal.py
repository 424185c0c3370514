"""The embedded-mode journal: what the collector appends, the flow reads back, in order, from any resume point."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairflow.events import Gap, Trade, encode
from sources.gaps import LastTrade
from sources.journal import Journal, _append
from sources.progress import ReadProgress
from tests.metrics_support import sample


def trade(tid: int, ts: int, coin: str = "BTC") -> Trade:
    return Trade(id=f"{coin}:{tid}", coin=coin, ts=ts, recv_ts=ts + 3, px=100.0 + tid, sz=0.5, side="B", tid=tid)


def read_all(journal: Journal, resume: int | None = None) -> tuple[list[tuple[str, bytes, None, int]], int]:
    """Read until the closed journal ends; return the records and the final snapshot."""
    reader = journal.build_part("input", "journal", resume)
    records = []
    try:
        while True:
            records += reader.next_batch()
    except StopIteration:
        pass
    state = reader.snapshot()
    reader.close()
    return records, state


def test_events_come_back_in_order_across_segments_and_a_resume_skips_what_was_read(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=1_000, batch_bytes=700)
    trades = [trade(i, 1_000 + i) for i in range(40)]
    for event in trades:
        journal.emit("md.trades", event.coin, event)
    journal.close()
    assert len(list(tmp_path.glob("*.journal"))) > 3

    records, end = read_all(journal)
    assert [(topic, payload) for topic, payload, _, _ in records] == [("md.trades", encode(t)) for t in trades]
    assert end == sum(len(b"md.trades\t" + encode(t) + b"\n") for t in trades)

    resumed, _ = read_all(journal, records[25][3])
    assert [payload for _, payload, _, _ in resumed] == [encode(t) for t in trades[25:]]
    # Segments wholly before the resume point are gone: nothing reads them again.
    assert min(int(path.name.split(".")[0]) for path in tmp_path.glob("*.journal")) <= records[25][3]
    assert not any(int(path.name.split(".")[0]) + 1_100 < records[25][3] for path in tmp_path.glob("*.journal"))


def test_a_record_torn_by_a_kill_is_cut_and_writing_goes_on(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.emit("md.trades", "BTC", trade(1, 1_000))
    (segment,) = tmp_path.glob("*.journal")
    with segment.open("ab") as raw:  # what a SIGKILL in the middle of a write leaves behind
        raw.write(b'md.trades\t{"ts":10')

    reopened = Journal(tmp_path)
    reopened.emit("md.trades", "BTC", trade(2, 2_000))
    reopened.close()
    records, _ = read_all(reopened)
    assert [payload for _, payload, _, _ in records] == [encode(trade(1, 1_000)), encode(trade(2, 2_000))]


def test_last_trades_are_the_newest_per_coin_with_every_id_at_that_time(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=400)
    for event in (trade(1, 5_000), trade(2, 7_000), trade(3, 7_000), trade(9, 3_000, "ETH"), trade(4, 6_000)):
        journal.emit("md.trades", event.coin, event)
    gap = Gap(id="BTC:trades:1", coin="BTC", stream="trades", ts=8_000, start_ts=1, end_ts=2, filled=False)
    journal.emit("md.gaps", "BTC", gap)
    assert journal.last_trades(["BTC", "ETH", "SOL"]) == {
        "BTC": LastTrade(7_000, frozenset({"BTC:2", "BTC:3"})),
        "ETH": LastTrade(3_000, frozenset({"ETH:9"})),
    }
    journal.close()
    with pytest.raises(RuntimeError, match="closed"):
        journal.emit("md.trades", "BTC", trade(5, 9_000))


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=30),
    segment_bytes=st.integers(min_value=50, max_value=2_000),
    batch_bytes=st.integers(min_value=300, max_value=5_000),
    resume_at=st.integers(min_value=0, max_value=200),
)
def test_any_journal_reads_back_whole_and_resumes_at_any_record(
    sizes: list[int], segment_bytes: int, batch_bytes: int, resume_at: int
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        journal = Journal(Path(directory), segment_bytes=segment_bytes, batch_bytes=batch_bytes)
        trades = [trade(i, 1_000 + i * size) for i, size in enumerate(sizes)]
        for event in trades:
            journal.emit("md.trades", event.coin, event)
        journal.close()
        records, _ = read_all(journal)
        assert [payload for _, payload, _, _ in records] == [encode(t) for t in trades]
        index = resume_at % len(records)
        resumed, _ = read_all(journal, records[index][3])
        assert resumed == records[index:]


def test_the_reader_says_when_records_wait_and_when_it_reached_the_end_of_what_was_written(tmp_path: Path) -> None:
    """The ingest stage must tell a replayed backlog from a quiet collector (`sources.progress`)."""
    journal = Journal(tmp_path, batch_bytes=200, report_progress=True)
    reader = journal.build_part("input", "journal", None)
    at_end = ("journal", ReadProgress("journal", None, at_end=True), None, None)
    assert reader.next_batch() == [at_end]
    for tid in range(4):
        journal.emit("md.trades", "BTC", trade(tid, 1_000 + tid))
    records: list = []
    while at_end not in records:  # 200 bytes a batch: one record each
        records += reader.next_batch()
    waiting = ("journal", ReadProgress("journal", None, at_end=False), None, None)
    assert [record if record[2] is None and record[3] is None else "record" for record in records] == [
        "record", waiting, "record", "record", "record", at_end]
    assert reader.next_batch() == []
    reader.close()
    journal.close()


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=3_000), min_size=40, max_size=80))
def test_the_byte_counter_lags_the_journal_by_less_than_its_step_and_not_at_all_once_closed(sizes: list[int]) -> None:
    """The counter moves per 16 KiB appended, not per event (its lock was a sixth of an append's cost)."""
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp))
        before = sample("pairflow_journal_bytes_written_total")
        written = 0
        for tid, size in enumerate(sizes):
            event = Gap(id="x" * size, coin="BTC", stream="trades", ts=1_000 + tid, start_ts=1, end_ts=2, filled=True)
            journal.emit("md.gaps", "BTC", event)
            written += len(b"md.gaps\t%s\n" % encode(event))
            counted = sample("pairflow_journal_bytes_written_total") - before
            assert written - 16 * 1024 < counted <= written
        journal.close()
        assert sample("pairflow_journal_bytes_written_total") - before == written
        assert written == sum(path.stat().st_size for path in Path(tmp).glob("*.journal"))


def test_an_append_keeps_the_gil_so_the_flow_thread_cannot_take_it_per_event(tmp_path: Path) -> None:
    """os.write gave the GIL up per event: in embedded mode the flow thread took it each time (8 µs an event)."""
    journal = Journal(tmp_path)
    spins = [0]
    running, stop = threading.Event(), threading.Event()

    def spin() -> None:  # a thread that always wants the GIL, like the flow with a backlog
        running.set()
        while not stop.is_set():
            spins[0] += 1

    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1.0)  # the spinner may only take the GIL when an append gives it up
    spinner = threading.Thread(target=spin)
    try:
        spinner.start()
        running.wait()
        before = spins[0]
        for tid in range(3):
            journal.emit("md.trades", "BTC", trade(tid, 1_000 + tid))
        after = spins[0]
    finally:
        stop.set()
        sys.setswitchinterval(switch_interval)
        spinner.join()
        journal.close()
    assert after == before
    records, _ = read_all(journal)
    assert [payload for _, payload, _, _ in records] == [encode(trade(tid, 1_000 + tid)) for tid in range(3)]


@settings(max_examples=50, deadline=None)
@given(records=st.lists(st.binary(max_size=3_000), max_size=20))
def test_appends_write_every_byte_in_order(records: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "segment"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        for record in records:
            _append(fd, record)
        os.close(fd)
        assert path.read_bytes() == b"".join(records)


def test_an_append_that_fails_raises_what_os_write_raises(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "segment", os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        with pytest.raises(OSError, match=r"^\[Errno 9\] Bad file descriptor$") as failure:
            _append(fd, b"md.trades\t{}\n")
    finally:
        os.close(fd)
    assert failure.value.errno == errno.EBADF


def test_an_append_cut_short_raises_instead_of_leaving_half_a_record(tmp_path: Path) -> None:
    """A short write (a full disk, here a file size limit) would join the next record to the half written."""
    script = (
        "import os, resource, signal, sys\n"
        "from sources.journal import _append\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))\n"
        "try:\n"
        "    _append(fd, b'x' * 150)\n"
        "except OSError as error:\n"
        "    print(error)\n"
    )
    path = tmp_path / "segment"
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    assert done.stdout == "journal append wrote 100 of 150 bytes (is the disk full?)\n"


def test_an_append_a_signal_interrupts_is_made_again_as_os_write_does() -> None:
    """write(2) on a full pipe returns EINTR when a signal arrives (Python installs its handlers without SA_RESTART);
    os.write retries it, so the ctypes call must too, or a collector's append fails on any signal."""
    read_end, write_end = os.pipe()
    drain = None
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        os.set_blocking(write_end, False)
        try:
            while True:
                os.write(write_end, b"x" * 65536)
        except BlockingIOError:
            pass
        os.set_blocking(write_end, True)
        drain = subprocess.Popen(["sh", "-c", "sleep 0.6; cat > /dev/null"], stdin=read_end)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        _append(write_end, b"record\n")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.close(write_end)
        os.close(read_end)
        if drain is not None:
            drain.wait(10)
