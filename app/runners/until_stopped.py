"""Run a dataflow in this process until its input ends or the process is asked to stop."""

from __future__ import annotations

import signal
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from types import FrameType

from bytewax.dataflow import Dataflow
from bytewax.errors import BytewaxRuntimeError
from bytewax.recovery import RecoveryConfig
from bytewax.run import cli_main

from pairflow.errors import ClusterError, ConfigError
from pairflow.logs import get_logger

__all__ = ["run_until_stopped"]

log = get_logger(__name__)


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
    are not stored; with a recovery directory the next run writes them.

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
    handler = signal.default_int_handler if stop is None else _finish_on_first_signal(stop, flow.flow_id)
    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
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
        log.info("flow stopped by signal", flow=flow.flow_id)
        return
    except BaseException as error:
        # A lost peer panics Bytewax's communication thread; pyo3 raises that as a BaseException
        # whose class cannot be imported by name.
        if addresses is None or type(error).__name__ != "PanicException":
            raise
        raise ClusterError(
            f"process {process_id} lost contact with the other processes of the cluster ({error}); start every "
            "process again with the same --cluster, they resume from --recovery-dir"
        ) from None
    finally:
        for signum, previous_handler in previous.items():
            signal.signal(signum, previous_handler)
    if stop is not None and stop.is_set():
        log.info("flow stopped by signal", flow=flow.flow_id)


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


def _finish_on_first_signal(stop: threading.Event, flow_id: str) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        log.info("stopping: the flow finishes its epoch first (signal again to interrupt)", flow=flow_id)

    return handle
