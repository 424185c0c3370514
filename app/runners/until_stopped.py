"""Run a command until the process is asked to stop: SIGTERM (a container or service stop) and Ctrl-C alike.

Every long-running command takes either signal as its normal stop and exits 0
(`app.cli`): `stop_signals` for a command that waits on its own threads,
`run_until_stopped` for a command whose main thread runs a dataflow.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import timedelta
from pathlib import Path
from types import FrameType

from bytewax.dataflow import Dataflow
from bytewax.errors import BytewaxRuntimeError
from bytewax.recovery import RecoveryConfig
from bytewax.run import cli_main

from pairflow.errors import ClusterError, ConfigError
from pairflow.logs import get_logger

__all__ = ["run_until_stopped", "stop_signals"]

log = get_logger(__name__)

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_signals(command: str, then: Callable[[], None] | None = None) -> Iterator[threading.Event]:
    """Yield an event the first SIGINT or SIGTERM sets (calling ``then``); a second one interrupts.

    Why an event rather than Python's KeyboardInterrupt: the interrupt lands
    wherever the main thread happens to be (a store query, a screen update,
    the middle of a shutdown), and SIGTERM by default ends the process with no
    cleanup at all, leaving the store, journals and API half closed. With the
    event the command leaves its wait loop and stops its parts in order. A
    second signal still raises KeyboardInterrupt, for an operator who will not
    wait. The previous handlers come back on leaving.
    """
    stop = threading.Event()
    with _handling(_first_signal_sets(stop, "stopping (signal again to interrupt)", then, command=command)):
        yield stop


@contextmanager
def _handling(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """Handle SIGINT and SIGTERM with ``handler`` inside the block, the previous handlers again after it."""
    previous = {signum: signal.signal(signum, handler) for signum in _SIGNALS}
    try:
        yield
    finally:
        for signum, handler_before in previous.items():
            signal.signal(signum, handler_before)


def _first_signal_sets(stop: threading.Event, message: str, then: Callable[[], None] | None = None,
                       **context: str) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        log.info(message, signal=signal.Signals(signum).name, **context)
        if then is not None:
            then()

    return handle


def run_until_stopped(
    flow: Dataflow,
    workers: int,
    epoch: timedelta,
    recovery: RecoveryConfig | None,
    *,
    process_id: int | None = None,
    addresses: list[str] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run ``flow`` on ``workers`` threads; SIGTERM (e.g. a container stop) ends the run like Ctrl-C.

    With ``addresses`` (``host:port`` of every process, this one at index
    ``process_id``) this process is one member of a Bytewax cluster.

    With ``stop``, the event the flow's sources end their input on
    (`sources.kafka_source.market_data_source`), the first signal only sets
    it: the flow finishes its epoch, stores it and closes as at the end of
    its input. Interrupting Bytewax instead makes it panic, and the Rust
    stack it prints made a Ctrl-C look like a crash. A second signal, or any
    signal without ``stop``, interrupts the run: rows of the unfinished epoch
    are not stored; with a recovery directory the next run writes them. A
    member of a cluster of several processes ends at once on a signal and
    exits 0 (`_leave_cluster_on_signal`).

    Raises
    ------
    ConfigError
        When a recovery partition in ``recovery`` is not a readable database
        (a damaged copy, another file in its place).
    ClusterError
        When a member of the cluster is lost (killed, its host gone): Bytewax
        cannot go on with fewer processes, so the survivors stop too, and the
        operator restarts every member (they resume from the recovery directory).
    """
    if recovery is not None:
        _check_recovery(recovery)
    if stop is not None:
        handler = _first_signal_sets(stop, "stopping: the flow finishes its epoch first (signal again to interrupt)",
                                     flow=flow.flow_id)
    elif addresses is not None and len(addresses) > 1:
        handler = _leave_cluster_on_signal(flow.flow_id)
    else:
        handler = signal.default_int_handler
    with _handling(handler):
        interrupted = _run(flow, workers, epoch, recovery, process_id, addresses)
    if interrupted or (stop is not None and stop.is_set()):
        log.info("flow stopped by signal", flow=flow.flow_id)


def _run(flow: Dataflow, workers: int, epoch: timedelta, recovery: RecoveryConfig | None, process_id: int | None,
         addresses: list[str] | None) -> bool:
    """Run the flow; return whether a signal interrupted it."""
    try:
        cli_main(
            flow,
            workers_per_process=workers,
            process_id=process_id,
            addresses=addresses,
            epoch_interval=epoch,
            recovery_config=recovery,
        )
    except (KeyboardInterrupt, BytewaxRuntimeError) as error:
        # Bytewax hands the interrupt back wrapped (inside a dynamic sink) or as it is (in its own loop or
        # inside a partitioned sink).
        if isinstance(error, BytewaxRuntimeError) and not isinstance(error.__cause__, KeyboardInterrupt):
            raise
        return True
    except BaseException as error:
        # A lost peer panics Bytewax's communication thread; pyo3 raises that as a BaseException
        # whose class cannot be imported by name.
        if addresses is None or type(error).__name__ != "PanicException":
            raise
        time.sleep(_PEERS_GRACE_S)  # a stop signal arriving now ends this member with exit 0 (see above)
        # Members started with different --workers also end here: each expects the others' worker count.
        raise ClusterError(
            f"process {process_id} lost contact with the other processes of the cluster ({error}); start every "
            "process again with the same --cluster and --workers, they resume from --recovery-dir"
        ) from None
    return False


def _check_recovery(recovery: RecoveryConfig) -> None:
    """Open every recovery partition (an SQLite file) before Bytewax does: it unwraps the error in Rust and
    prints a panic's stack before the traceback, where the operator needs one line naming the directory."""
    for part in sorted(Path(recovery.db_dir).glob("part-*.sqlite3")):
        try:
            with closing(sqlite3.connect(f"file:{part}?mode=ro", uri=True)) as database:
                database.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as error:
            raise ConfigError(
                f"recovery directory {recovery.db_dir} cannot be read ({part.name}: {error}); restore it from a"
                " copy, or remove it to start from scratch"
            ) from None


# How long a member that lost another waits for its own stop signal before reporting the loss: the members
# of a cluster stopped whole (a compose stop, Ctrl-C in a terminal running them all) get theirs at nearly
# the same moment, and each then exits 0 instead of racing to report the others as lost.
_PEERS_GRACE_S = 1.0


def _leave_cluster_on_signal(flow_id: str) -> Callable[[int, FrameType | None], None]:
    """End this member of a cluster at once, as a kill would, and exit 0.

    Why not interrupt Bytewax: an interrupted member stops its workers, then
    waits for every other member to close its link, so a member stopped alone
    (its own service stopped, Ctrl-C in its terminal) hung until the others
    stopped too; and those, told nothing, went on waiting for it without a
    word. Ended at once it is seen as lost: the others stop with the
    lost-member error (`ClusterError`), and every member resumes from the
    last epoch committed to --recovery-dir, as after a kill, which the
    reliability suite proves loses and duplicates nothing.
    """

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("member stopped by signal; the other members of the cluster stop too", flow=flow_id,
                 signal=signal.Signals(signum).name)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    return handle

