"""Scale-out: events/s of ingest -> strategy, and of the strategy stage alone, on 1 process and on a 2-process cluster.

Run: ``.venv/bin/python benchmarks/bench_cluster.py [--trades N] [--rows R] [--repeats K] [--write]``.

Every path runs real ``pairflow run STAGE --until-end`` processes against a
local tansu broker (a fresh one per run, topics of 2 partitions), so the
figures include what a deployment pays: process start-up, the broker round
trips, JSON on the wire.

* ``ingest -> strategy``: ``N`` trades over BTC, ETH and SOL on md.trades
  (`tests.integration.ingest_support.make_tape`, no junk); ``run ingest``
  publishes 1s bars and book snapshots, then ``run strategy`` trades BTC/ETH,
  ETH/SOL and BTC/SOL on them. Events/s = trades / wall time of both stages.
* ``strategy, 20 spreads``: 20 spreads (40 coins) of ``R`` cointegrated 1m
  bars per leg on md.bars (`tests.strategy_support.cointegrated_bars`).
  Events/s = bars / wall time.

Each workload runs on 1 process (``-w 1``) and on a 2-process cluster
(``--cluster`` of two addresses, ``-w 1`` each), round-robin, ``K`` times; the
best wall time is reported. Start-up is timed apart: the same stage commands on
the same topics left empty (best of ``K``). Where the time goes: the CPU time
(user + system) of every stage process (from the kernel when each exits) and of
the broker (from /proc). Steady state is given two ways: wall time less start-up
(noisy on a shared machine), and from CPU time, which other jobs on the machine
do not inflate: each process's CPU less its start-up run's CPU is its steady
work; a stage's processes run side by side and the stages one after the other,
so the sum over stages of the largest steady work of a stage's processes is the
wall time the run would take with a free core per process. Serialisation is
measured in this process: the JSON wire format by decoding every input message
and encoding every output event once, Bytewax's exchange between processes by
pickling and unpickling every bar once (the strategy re-keys bars to spreads).
Parity: in every run the 2-process cluster must
publish exactly what the 1-process run publishes -- every version of every
bar on md.bars, per coin in order (the first versions, which the strategy
trades, included) and the signals, whole events (ingest -> strategy), and
the signals (strategy alone). (An earlier trial over 100,000 trades gave 458
vs 464 signals on equal bars. Two causes were found since, and that run's
record does not tell which gave the figure: the signals were read back by a
reader that stops at its first quiet half second, which undercounted under
load (now read to every partition's end); and a bar correction that reached a
spread while its first version was still held for the other leg overtook it,
so which version was traded depended on how the ingest processes interleaved
md.bars (`operators.leg_merge.LegMerger` now queues it behind).)
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec  # noqa: E402

from benchmarks.machine import arguments, provenance, publish  # noqa: E402
from pairflow.events import Signal, decode_topic, encode  # noqa: E402
from pairflow.topics import TopicSpec, ensure_topics  # noqa: E402
from tests.broker import TansuBroker, consume_to_end  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from tests.integration.ingest_support import (  # noqa: E402
    create_topics,
    make_tape,
    produce,
    published_bar_versions,
    start_pairflow,
)
from tests.strategy_support import cointegrated_bars  # noqa: E402

TAPE_PAIRS = "BTC/ETH,ETH/SOL,BTC/SOL"
TAPE_ENV = {"PAIRFLOW_STRATEGY__BAR_INTERVAL": "1s", "PAIRFLOW_STRATEGY__WARMUP_ROWS": "20",
            "PAIRFLOW_STRATEGY__ZSCORE_WINDOW": "20"}
SPREADS = [(f"Y{index}", f"X{index}") for index in range(20)]


@dataclass
class Run:
    """One timed path: wall seconds, CPU seconds of each stage process (in start order) and of the broker."""

    wall: float
    stage_cpu: list[float]
    broker_cpu: float


def run_stage(workdir: Path, broker: TansuBroker, stage: str, processes: int, *extra: str,
              env: dict[str, str] | None = None) -> list[float]:
    """Run ``pairflow run STAGE --until-end`` on ``processes`` processes; return each one's CPU seconds at exit."""
    cluster: tuple[str, ...] = ()
    if processes > 1:
        cluster = ("--cluster", ",".join(f"127.0.0.1:{free_port()}" for _ in range(processes)))
    members = [
        start_pairflow(workdir, "run", stage, "--brokers", broker.bootstrap_servers, "--until-end",
                       "--dead-letter-dir", str(workdir / "dead"), *extra, *cluster,
                       *(("-i", str(index)) if cluster else ()), extra_env=env)
        for index in range(processes)
    ]
    cpu, codes = [], []
    for member in members:
        # wait4 reaps the process and hands back its own rusage, which Popen.wait would discard.
        _, status, usage = os.wait4(member.pid, 0)
        member.returncode = os.waitstatus_to_exitcode(status)
        codes.append(member.returncode)
        cpu.append(usage.ru_utime + usage.ru_stime)
    if codes != [0] * processes:
        raise SystemExit(f"{stage} on {processes} processes exited {codes}: see {workdir}/run.log")
    return cpu


def process_cpu_seconds(pid: int | None) -> float:
    """Return a running process's user + system CPU seconds from /proc (fields 14 and 15 of its stat line)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def signals_of(broker: TansuBroker) -> list[Signal]:
    """Return every signal on pf.signals, by id."""
    messages = consume_to_end(broker, "pf.signals")
    return sorted((msgspec.json.decode(message.value(), type=Signal) for message in messages), key=lambda s: s.id)


def bars_and_signals(broker: TansuBroker) -> tuple[dict, list[Signal]]:
    """Return every bar version on md.bars, per coin in order, and every signal on pf.signals."""
    return published_bar_versions(broker), signals_of(broker)


def timed_run(workdir: Path, load: Callable[[TansuBroker], None], run: Callable[[Path, TansuBroker], list[float]],
              output: Callable[[TansuBroker], object]) -> tuple[Run, object]:
    """Run one path on a fresh broker loaded by ``load``; return its timings and its ``output`` for parity."""
    with TansuBroker() as broker:
        load(broker)
        broker_started = process_cpu_seconds(broker.pid)
        started = time.perf_counter()
        stage_cpu = run(workdir, broker)
        wall = time.perf_counter() - started
        timing = Run(wall, stage_cpu, process_cpu_seconds(broker.pid) - broker_started)
        return timing, output(broker)


def wire_seconds(inputs: list[tuple[str, bytes]], outputs: list[object]) -> float:
    """Return the CPU seconds of decoding every ``(topic, message)`` input and encoding every output event once."""
    started = time.process_time()
    for topic, data in inputs:
        decode_topic(topic, data)
    for event in outputs:
        encode(event)
    return time.process_time() - started


def exchange_seconds(items: list[object]) -> float:
    """Return the CPU seconds of pickling and unpickling every item once, as Bytewax's exchange does."""
    started = time.process_time()
    for item in items:
        pickle.loads(pickle.dumps(item))
    return time.process_time() - started


def steady_path(stage_cpu: list[float], idle_cpu: list[float], processes: int) -> tuple[float, float]:
    """Return the steady CPU seconds of all processes and of the critical path (stages in turn, members side by
    side): each process's CPU less its start-up run's."""
    steady = [max(used - idle, 0.0) for used, idle in zip(stage_cpu, idle_cpu, strict=True)]
    stages = [steady[index:index + processes] for index in range(0, len(steady), processes)]
    return sum(steady), sum(max(stage) for stage in stages)


def main() -> None:
    parser = arguments(__doc__, "cluster", repeats=2, seed=7)
    # Large enough that each process's steady work (about 0.7 CPU s per 100,000 trades through ingest, 1.8 CPU s
    # per 60,000 bars through the strategy) stands well above the run-to-run spread of its start-up CPU.
    parser.add_argument("--trades", type=int, default=400_000, help="trades of the ingest -> strategy workload")
    parser.add_argument("--rows", type=int, default=5_000, help="bars per leg of the 20-spread workload")
    options = parser.parse_args()

    tape = make_tape(options.trades, seed=options.seed, with_junk=False)
    bars = [bar for legs in SPREADS for bar in cointegrated_bars(legs, options.rows, seed=options.seed)]
    bars.sort(key=lambda bar: bar.ts)

    bar_messages = [("md.bars", bar.coin.encode(), encode(bar)) for bar in bars]

    def tape_topics(broker: TansuBroker) -> None:
        create_topics(broker)

    def bar_topics(broker: TansuBroker) -> None:
        ensure_topics(broker.admin(), [TopicSpec(name, 2) for name in ("md.bars", "md.funding", "md.fees",
                                                                        "md.books", "pf.signals")])

    def loaded(topics: Callable[[TansuBroker], None], messages: list) -> Callable[[TansuBroker], None]:
        def load(broker: TansuBroker) -> None:
            topics(broker)
            produce(broker, messages)
        return load

    def pipeline(processes: int) -> Callable[[Path, TansuBroker], list[float]]:
        def run(workdir: Path, broker: TansuBroker) -> list[float]:
            ingest = run_stage(workdir, broker, "ingest", processes)
            return ingest + run_stage(workdir, broker, "strategy", processes, "--pairs", TAPE_PAIRS, env=TAPE_ENV)
        return run

    def strategy_alone(processes: int) -> Callable[[Path, TansuBroker], list[float]]:
        pairs = ",".join("/".join(legs) for legs in SPREADS)
        return lambda workdir, broker: run_stage(workdir, broker, "strategy", processes, "--pairs", pairs)

    workloads = {
        "ingest -> strategy": (len(tape.trades), "trades", tape_topics, tape.messages, pipeline, bars_and_signals),
        "strategy, 20 spreads": (len(bars), "bars", bar_topics, bar_messages, strategy_alone,
                                 lambda broker: (signals_of(broker),)),
    }
    best: dict[tuple[str, int], Run] = {}
    startup: dict[tuple[str, int], Run] = {}
    wire: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as scratch:
        root = Path(scratch)
        for repeat in range(options.repeats):
            for name, (_, _, topics, messages, path, output) in workloads.items():
                outputs = {}
                for processes in (1, 2):
                    workdir = root / f"{name.split()[0]}-{processes}-{repeat}"
                    (workdir / "empty").mkdir(parents=True)
                    idle, _ = timed_run(workdir / "empty", topics, path(processes), lambda broker: None)
                    if (name, processes) not in startup or idle.wall < startup[name, processes].wall:
                        startup[name, processes] = idle
                    timing, outputs[processes] = timed_run(workdir, loaded(topics, messages), path(processes), output)
                    if (name, processes) not in best or timing.wall < best[name, processes].wall:
                        best[name, processes] = timing
                if outputs[2] != outputs[1] or not all(outputs[1]):
                    sizes = [[sum(map(len, part.values())) if isinstance(part, dict) else len(part)
                              for part in outputs[processes]] for processes in (1, 2)]
                    raise SystemExit(f"parity failed for {name}: {sizes[0]} vs {sizes[1]} items")
                first = outputs[1][0]
                published = [bar for bars in first.values() for bar in bars] if isinstance(first, dict) else first
                decoded = [(topic, value) for topic, _, value in messages]
                if name == "ingest -> strategy":  # ingest encodes the bars, the strategy decodes them again
                    decoded += [("md.bars", encode(bar)) for bar in published]
                crossing = published if name == "ingest -> strategy" else bars
                wire[name] = wire_seconds(decoded, published), exchange_seconds(crossing)

    lines = ["# Scale-out: 1 process vs a 2-process Bytewax cluster", ""]
    lines += provenance("app", "flows", "sources", "sinks", "operators", "pairflow")
    lines += [
        f"- command: `.venv/bin/python benchmarks/bench_cluster.py --trades {options.trades} --rows {options.rows} "
        f"--repeats {options.repeats}`",
        "- parity: in every run the 2-process cluster published exactly the 1-process run's bars and signals "
        "(ingest -> strategy: every version of every bar on md.bars, per coin in order, whole signals) and "
        "signals (strategy alone: whole events)",
        "- start-up: the same stage commands on the same topics left empty (best of the repeats). CPU s: user + "
        "system of each stage process (ingest -> strategy: ingest processes, then strategy processes) and of the "
        "broker over the run. Steady CPU: each process's CPU less its start-up run's; critical path: the sum over "
        "stages of the largest steady CPU of a stage's processes, the wall time with a free core per process. "
        "Wire: JSON decoding of every input message and encoding of every output once; exchange: pickling and "
        "unpickling every bar once (Bytewax's exchange between processes), both in one process",
        "",
        "| workload | events | processes | wall s | start-up s | wall less start-up s | stage CPU s | start-up CPU s "
        "| broker CPU s | steady CPU s | critical path s | events/s on the critical path | speed-up |",
        "|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, (events, unit, *_) in workloads.items():
        one_path = steady_path(best[name, 1].stage_cpu, startup[name, 1].stage_cpu, 1)[1]
        for processes in (1, 2):
            timing, idle = best[name, processes], startup[name, processes]
            total, path_s = steady_path(timing.stage_cpu, idle.stage_cpu, processes)
            if path_s <= 0 or one_path <= 0:
                raise SystemExit(f"{name}: start-up took the whole run; give it more events")
            cpu = " + ".join(f"{seconds:.1f}" for seconds in timing.stage_cpu)
            idle_cpu = " + ".join(f"{seconds:.1f}" for seconds in idle.stage_cpu)
            lines.append(
                f"| {name} | {events:,} {unit} | {processes} | {timing.wall:.2f} | {idle.wall:.2f} | "
                f"{timing.wall - idle.wall:.2f} | {cpu} | {idle_cpu} | {timing.broker_cpu:.1f} | {total:.2f} | "
                f"{path_s:.2f} | {events / path_s:,.0f} | {one_path / path_s:.2f}x |")
    lines.append("")
    for name, (events, unit, *_) in workloads.items():
        one, two = best[name, 1], best[name, 2]
        cpu_one, cpu_two = sum(one.stage_cpu) + one.broker_cpu, sum(two.stage_cpu) + two.broker_cpu
        steady_one = steady_path(one.stage_cpu, startup[name, 1].stage_cpu, 1)[0]
        steady_two = steady_path(two.stage_cpu, startup[name, 2].stage_cpu, 2)[0]
        json_s, pickle_s = wire[name]
        lines.append(
            f"- {name}: stages + broker used {cpu_one:.1f} CPU s on 1 process and {cpu_two:.1f} on 2, keeping "
            f"{cpu_one / one.wall:.2f} and {cpu_two / two.wall:.2f} of the 2 cores busy; steady work {steady_one:.2f} "
            f"and {steady_two:.2f} CPU s ({steady_two / steady_one:.2f}x on 2); the broker took "
            f"{one.broker_cpu:.1f} and {two.broker_cpu:.1f} CPU s; JSON on the wire about {json_s:.2f} CPU s and "
            f"pickling for the exchange about {pickle_s:.2f} CPU s, against {steady_one:.2f} CPU s of steady work"
        )
    lines += [
        "",
        "How to read it: on a shared machine the processes get only part of a core each (the cores-busy figures), "
        "so wall times measure the machine's other load and the start-up more than pairflow; the critical path is "
        "the wall time the same work would take with a free core per process. A process's start-up CPU differs by "
        "a few tenths of a second from run to run, so a steady figure below about 1 CPU s per process is within "
        "that noise (give such a workload more events). What limits the scaling: the "
        "machine has 2 cores, so the second process competes with the first, the broker and every other job "
        "rather than adding a core; each process pays its start-up (imports, broker metadata, Bytewax's cluster "
        "handshake) once per stage; a cluster does more work in all than one process (the steady-work ratio), "
        "items crossing processes over Bytewax's TCP exchange (pickled: the strategy re-keys bars to spreads, "
        "ingest hands bars and snapshots to its topic sink); and the strategy reads every partition on one "
        "worker (`sources.time_ordered_source`, so both legs of a spread advance together), so only the "
        "spreads' state and their signals spread over the second process. Ingest splits its input by topic "
        "partition (2 here): more processes than partitions idle.",
    ]
    publish("\n".join(lines) + "\n", "cluster", options.write)


if __name__ == "__main__":
    main()
