"""Faults injected into a 2-process ``pairflow run STAGE --cluster`` over the local Kafka-protocol broker.

Each scenario runs a stage as a real Bytewax cluster of two processes sharing
one recovery directory, SIGKILLs one member mid-stream (or, for the strategy,
stops one member or both with SIGTERM, as a service manager does), restarts the whole
cluster from that directory and runs it to the end of its input; the
store-writer then stores what the cluster published. Lost and duplicated are
counted in the deduplicated ``_v`` views against what an uninterrupted run
computes; recovery is from the restart until both members have read to the end.
A broker stop/start under a running cluster is measured from the broker's return
until everything the input sent after it gives (bars, signals) is published.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from pairflow.events import Bar
from pairflow.storage import connect
from tests.bars_reference import batch_bars
from tests.broker import TansuBroker, consume_to_end
from tests.helpers import eventually, free_port
from tests.integration.ingest_support import (
    chdb_settings,
    committed_epoch,
    create_topics,
    make_tape,
    _bar_columns,
    produce,
    read_published_bars,
    start_pairflow,
    stored_bars,
)
from tests.integration.strategy_cli_support import LEGS, STRATEGY_ENV, signals_by_hand, strategy_bars
from tests.metrics_support import metric, served_metric
from tests.reliability.support import broker_outage, lost_and_duplicated, produce_in_chunks, record

pytestmark = [pytest.mark.slow, pytest.mark.broker]

# Legs are held for each other longer than the whole input, so how the members' partitions interleave never matters.
CLUSTER_ENV = {**STRATEGY_ENV, "PAIRFLOW_STRATEGY__REORDER_MS": str(300 * 60_000)}
# How a running cluster is stopped: the signal and the members it is sent to. A member killed is lost to the
# others; SIGTERM is how a service manager stops a member on its own (`interrupt` stops all of them at once).
STOPS = {"SIGKILL of 1": (signal.SIGKILL, (1,)), "SIGTERM of 1": (signal.SIGTERM, (1,))}


def start_cluster(
    tmp_path: Path, stage: str, broker: TansuBroker, *arguments: str, ports: tuple[int, int] = (0, 0),
    env: dict[str, str] | None = None,
) -> list[subprocess.Popen]:
    """Start both members of a 2-process ``pairflow run STAGE`` cluster sharing ``tmp_path/recovery``."""
    addresses = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    return [
        start_pairflow(
            tmp_path, "run", stage, "--brokers", broker.bootstrap_servers, "--dead-letter-dir", str(tmp_path / "dead"),
            "--recovery-dir", str(tmp_path / "recovery"), "--snapshot-interval", "0.2", "--cluster", addresses,
            "-i", str(index), *arguments, metrics_port=port, extra_env=env,
        )
        for index, port in enumerate(ports)
    ]


def stop_members(tmp_path: Path, members: list[subprocess.Popen], ready: Callable[[], bool],
                    stop: str = "SIGKILL of 1") -> None:
    """Once ``ready()`` holds, stop members as ``stop`` (a key of `STOPS`) says, and check how each ends.

    A member sent SIGTERM (a service stop, like Ctrl-C) exits 0 at once, without a Rust panic stack,
    with its closing line. A member left running cannot go on alone: it stops with one line (exit 1).
    """
    signum, stopped = STOPS[stop]
    try:
        eventually(ready, timeout=60)
        for index in stopped:
            members[index].send_signal(signum)
        codes = [member.wait(timeout=30) for member in members]
    finally:
        for member in members:
            if member.poll() is None:
                member.kill()
                member.wait()
    log = (tmp_path / "run.log").read_text()
    ended_by = 0 if signum == signal.SIGTERM else -signum
    assert codes == [ended_by if index in stopped else 1 for index in range(len(members))], log[-3_000:]
    left = [index for index in range(len(members)) if index not in stopped]
    assert all(f"error: process {index} lost contact with the other processes of the cluster" in log
               for index in left), log[-3_000:]
    assert "Traceback" not in log and "panicked" not in log, log[-3_000:]
    if signum == signal.SIGTERM:
        assert log.count("member stopped by signal") == len(stopped), log[-3_000:]


def run_to_the_end(tmp_path: Path, stage: str, broker: TansuBroker, *arguments: str,
                   env: dict[str, str] | None = None) -> float:
    """Restart the cluster with ``--until-end``; return the seconds until both members exited 0."""
    restarted = time.monotonic()
    members = start_cluster(tmp_path, stage, broker, "--until-end", *arguments, env=env)
    codes = [member.wait(timeout=120) for member in members]
    assert codes == [0, 0], (tmp_path / "run.log").read_text()[-3_000:]
    return time.monotonic() - restarted


def published_while_running(
    tmp_path: Path, members: list[subprocess.Popen], back: float, published: Callable[[], bool]
) -> float:
    """Wait until ``published()`` holds, requiring both members to keep running; return the seconds since ``back``."""
    eventually(lambda: any(member.poll() is not None for member in members) or published(), timeout=60, interval=1.0)
    recovery_s = time.monotonic() - back
    assert [member.poll() for member in members] == [None, None], (tmp_path / "run.log").read_text()[-3_000:]
    return recovery_s


def kill_all(members: list[subprocess.Popen]) -> None:
    """Stop the members at once: what they published has been checked already, nothing is left to flush."""
    for member in members:
        member.kill()
        member.wait()


def interrupt(tmp_path: Path, members: list[subprocess.Popen]) -> None:
    """Ctrl-C each member: a cluster member is interrupted at once, as README and ARCHITECTURE say, and exits 0
    (it cannot finish its epoch by ending its input while the other member still reads, so it must not wait)."""
    for member in members:
        member.send_signal(signal.SIGINT)
    codes = [member.wait(timeout=20) for member in members]
    log = (tmp_path / "run.log").read_text()
    assert codes == [0, 0] and "panicked" not in log and "Traceback" not in log, log[-3_000:]


def assert_stored_as_computed(expected: dict, stored: dict) -> None:
    """Require every stored bar the batch computation also made to equal it (a restart must not change a bar)."""
    wrong = [bar_id for bar_id in expected.keys() & stored.keys() if stored[bar_id] != expected[bar_id]]
    assert not wrong, f"{len(wrong)} bars differ from the batch computation, e.g. {wrong[0]}"


def published_ids(broker: TansuBroker, topic: str) -> set[str]:
    """Return the distinct event ids on ``topic`` now."""
    return {msgspec.json.decode(message.value(), type=_Identified).id for message in consume_to_end(broker, topic)}


class _Identified(msgspec.Struct):
    id: str


def store_topics(tmp_path: Path, broker: TansuBroker) -> None:
    """Store every topic once with the store-writer, the only stage that opens the store."""
    writer = start_pairflow(tmp_path, "run", "store-writer", "--brokers", broker.bootstrap_servers, "--until-end",
                            "--dead-letter-dir", str(tmp_path / "dead"))
    assert writer.wait(timeout=120) == 0, (tmp_path / "run.log").read_text()[-3_000:]


def test_sigkill_of_one_ingest_cluster_member(tansu_broker_fn: TansuBroker, tmp_path: Path) -> None:
    create_topics(tansu_broker_fn)
    tape = make_tape(12_000, seed=37, with_junk=False)
    head, tail = len(tape.messages) // 4, len(tape.messages) * 5 // 6
    produce(tansu_broker_fn, tape.messages[:head])
    ports = (free_port(), free_port())
    members = start_cluster(tmp_path, "ingest", tansu_broker_fn, ports=ports)
    # Input keeps flowing while the member is killed; the last part is sent only after, so the kill is mid-stream.
    producer = threading.Thread(target=produce_in_chunks, args=(tansu_broker_fn, tape.messages[head:tail]))
    producer.start()
    try:
        stop_members(tmp_path, members, lambda: committed_epoch(tmp_path / "recovery") >= 2
                        and min(metric(port, "pairflow_kafka_produced_total", topic="md.bars") for port in ports) > 0)
    finally:
        producer.join()
    bars_at_kill = len(published_ids(tansu_broker_fn, "md.bars"))
    produce(tansu_broker_fn, tape.messages[tail:])
    recovery_s = run_to_the_end(tmp_path, "ingest", tansu_broker_fn)
    store_topics(tmp_path, tansu_broker_fn)

    expected = batch_bars(tape.trades, (1_000, 60_000))
    lost = duplicated = 0
    with connect(chdb_settings(tmp_path)) as store:
        for interval in ("1s", "1m"):
            counts = lost_and_duplicated(store, f"bars_{interval}", {i for i in expected if f":{interval}:" in i})
            lost, duplicated = lost + counts[0], duplicated + counts[1]
        stored = stored_bars(store, "bars_1s") | stored_bars(store, "bars_1m")
    assert bars_at_kill < len(expected), "the first run had published every bar: not a mid-stream kill"
    assert_stored_as_computed(expected, stored)
    record("SIGKILL of 1 of 2 ingest cluster processes, restart", len(expected), lost, duplicated, recovery_s)


@pytest.mark.parametrize("stop", list(STOPS))
def test_stop_of_strategy_cluster_members_then_restart(tansu_broker_fn: TansuBroker, tmp_path: Path, stop: str) -> None:
    """Killed, or stopped alone by a service manager: the restarted cluster publishes every signal once."""
    messages = strategy_bars(tansu_broker_fn, 200, seed=47)
    half = len(messages) // 2
    produce(tansu_broker_fn, messages[:half])
    ports = (free_port(), free_port())
    pairs = ("--pairs", "/".join(LEGS))
    members = start_cluster(tmp_path, "strategy", tansu_broker_fn, *pairs, ports=ports,
                            env={**CLUSTER_ENV, "PAIRFLOW_LOGGING__LEVEL": "INFO"})
    stop_members(tmp_path, members, lambda: committed_epoch(tmp_path / "recovery") >= 2
                    and sum(metric(port, "pairflow_strategy_signals_total") for port in ports) >= 3, stop)
    signals_at_kill = len(published_ids(tansu_broker_fn, "pf.signals"))
    produce(tansu_broker_fn, messages[half:])
    recovery_s = run_to_the_end(tmp_path, "strategy", tansu_broker_fn, *pairs, env=CLUSTER_ENV)
    store_topics(tmp_path, tansu_broker_fn)

    expected = signals_by_hand(messages)
    assert signals_at_kill < len(expected), "the first run had published every signal: not a mid-stream kill"
    with connect(chdb_settings(tmp_path)) as store:
        lost, duplicated = lost_and_duplicated(store, "signals", {signal.id for signal in expected})
        stored = store.query("SELECT id FROM signals_v")
    assert {row[0] for row in stored} == {signal.id for signal in expected}
    record(f"{stop} of 2 strategy cluster processes, restart", len(expected), lost, duplicated, recovery_s)


def test_broker_stop_and_start_under_an_ingest_cluster(tansu_broker_fn: TansuBroker, tmp_path: Path) -> None:
    """Both members ride the outage; tansu keeps its log in memory, so the bars checked are those after it.

    Whether a member's producer noticed the outage (and was rebuilt) depends on
    whether it was sending then; either way its new bars must reach md.bars.
    """
    create_topics(tansu_broker_fn)
    before = make_tape(3_000, seed=53, with_junk=False)
    after = make_tape(1_000, seed=59, start_index=3_000, with_junk=False)
    ports = (free_port(), free_port())
    members = start_cluster(tmp_path, "ingest", tansu_broker_fn, ports=ports)
    try:
        produce(tansu_broker_fn, before.messages)
        sent = sum(topic == "md.trades" for topic, _, _ in before.messages)
        decoded = "pairflow_ingest_messages_in_total"
        eventually(lambda: sum(served_metric(port, decoded, topic="md.trades") for port in ports) >= sent, timeout=60)
        back = broker_outage(tansu_broker_fn, before.messages, after.messages)
        # The 1s bars the new events touch; a quiet coin's last 1m bar closes only a minute later.
        reference = batch_bars(before.trades + after.trades, (1_000,))
        start = min(trade.ts for trade in after.trades)
        expected = {bar_id: bar for bar_id, bar in reference.items() if int(bar_id.rsplit(":", 1)[1]) + 1_000 > start}

        def published_whole() -> bool:
            published = read_published_bars(tansu_broker_fn)
            return all(bar_id in published and _bar_columns(published[bar_id]) == bar
                       for bar_id, bar in expected.items())

        recovery_s = published_while_running(tmp_path, members, back, published_whole)
        interrupt(tmp_path, members)
    finally:
        kill_all(members)
    store_topics(tmp_path, tansu_broker_fn)
    with connect(chdb_settings(tmp_path)) as store:
        lost, duplicated = lost_and_duplicated(store, "bars_1s", set(expected))
        stored = stored_bars(store, "bars_1s")
    assert_stored_as_computed(expected, stored)
    record("broker stop/start under a 2-process ingest cluster", len(expected), lost, duplicated, recovery_s)


def test_broker_stop_and_start_under_a_strategy_cluster(tansu_broker_fn: TansuBroker, tmp_path: Path) -> None:
    """The signals of the bars sent after the outage are published whole and stored once (tansu forgets the rest)."""
    messages = strategy_bars(tansu_broker_fn, 200, seed=61)
    half = len(messages) // 2
    expected = signals_by_hand(messages)
    after = {signal.id for signal in expected if signal.ts > msgspec.json.decode(messages[half - 1][2], type=Bar).ts}
    assert len(after) >= 5, "too few signals after the outage to compare"
    ports = (free_port(), free_port())
    members = start_cluster(tmp_path, "strategy", tansu_broker_fn, "--pairs", "/".join(LEGS), ports=ports,
                            env=CLUSTER_ENV)
    try:
        produce(tansu_broker_fn, messages[:half])
        eventually(lambda: sum(metric(port, "pairflow_strategy_signals_total") for port in ports) >= 3, timeout=60)
        back = broker_outage(tansu_broker_fn, messages[:half], messages[half:],
                             create=lambda broker: strategy_bars(broker, 0, seed=61))
        recovery_s = published_while_running(
            tmp_path, members, back, lambda: after <= published_ids(tansu_broker_fn, "pf.signals"))
    finally:
        kill_all(members)
    store_topics(tmp_path, tansu_broker_fn)
    with connect(chdb_settings(tmp_path)) as store:
        lost, duplicated = lost_and_duplicated(store, "signals", after)
    record("broker stop/start under a 2-process strategy cluster", len(after), lost, duplicated, recovery_s)
