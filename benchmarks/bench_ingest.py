"""End-to-end ingest throughput: tansu broker -> Bytewax ingest flow -> chDB, vs a bare consume+insert loop.

Run: ``.venv/bin/python benchmarks/bench_ingest.py [--events N] [--repeats R] [--partitions P] [--write]``.

One tansu broker (memory storage) is filled once with ``N`` seeded trades on
``md.trades`` (JSON, keyed by coin, ``P`` partitions). Every path then reads
all of them from the beginning and stores them into an emptied chDB:

* ``bare loop`` (baseline) — confluent-kafka ``consume`` batches, msgspec
  decode, columnar conversion and one ``insert`` per 100k rows. Trades only.
* ``flow, 1 worker`` — `flows.ingest.build_ingest_flow` with the Kafka source
  and ClickHouse sink: decode + validate, dead-letter split, keyed state
  (1 s / 1 m bars with dedupe and lateness), trades and bars stored.
* ``flow, 1 worker, recovery`` — the same with Bytewax recovery snapshots
  every 2 s into a SQLite recovery directory.
* ``flow, 2 workers`` — two worker threads in one process (chDB admits one
  process per directory, so workers cannot be separate processes here).
* ``embedded, queue`` — no broker: a collector thread emits the typed trades
  into the in-memory `sources.queue_source.QueueSource` the flow drains
  (``pairflow ingest --embedded``).
* ``embedded, journal, recovery every 2 s`` — the same through the durable
  `sources.journal.Journal` (``--embedded --recovery-dir``): the collector
  thread appends each event (encode + one write), the flow reads and decodes
  it back. Its cost against ``embedded, queue`` is the price of a SIGKILL
  losing nothing received. The collector side alone (append per event) is
  timed too.

Every path runs with the garbage-collector setting of ``pairflow ingest``
(`flows.ingest.tune_gc_for_throughput`).

Parity first: each path runs once as warmup and must leave the same trades
(count, distinct ids and an order-independent hash of every row); the flow
paths must also leave bars whose trade counts add up to ``N``. Then each path
is timed ``repeats`` times round-robin and the best run is reported. A run is
timed from building the source until every row is in the store.
"""

from __future__ import annotations

import gc
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec  # noqa: E402
from bytewax.run import cli_main  # noqa: E402
from bytewax.testing import run_main  # noqa: E402
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition  # noqa: E402

from benchmarks.machine import arguments, provenance, publish  # noqa: E402
from flows.ingest import build_ingest_flow, prepare_recovery, tune_gc_for_throughput  # noqa: E402
from pairflow.config import StorageSettings  # noqa: E402
from pairflow.events import MARKET_TOPICS, Trade, encode  # noqa: E402
from pairflow.storage import Store, connect  # noqa: E402
from pairflow.topics import TopicSpec, ensure_topics  # noqa: E402
from sinks.clickhouse import ClickHouseSink  # noqa: E402
from sinks.dead_letter import DeadLetterSink  # noqa: E402
from sources.journal import Journal  # noqa: E402
from sources.kafka_source import CONSUMER_CONFIG, market_data_source  # noqa: E402
from sources.queue_source import QueueSource  # noqa: E402
from tests.broker import TansuBroker  # noqa: E402

COINS = ["BTC", "ETH", "SOL", "HYPE", "DOGE", "AVAX", "LINK", "ARB"]
TABLES = ("trades", "bars_1s", "bars_1m")
PARITY_SQL = (
    "SELECT count(), uniqExact(id), sum(cityHash64(ts, recv_ts, id, coin, px, sz, side, tid, hash)) FROM trades FINAL"
)
BARE_INSERT_ROWS = 100_000


def make_trades(count: int, seed: int) -> list[Trade]:
    """Build seeded trades, 8 coins, ~3 ms apart, on a realistic price grid."""
    rng = random.Random(seed)
    start = 1_790_000_000_000
    return [
        Trade(
            id=f"{i:012x}",
            coin=COINS[i % len(COINS)],
            ts=start + i * 3,
            recv_ts=start + i * 3 + rng.randint(1, 40),
            px=round(100 + rng.random() * 10, 2),
            sz=round(rng.random() * 5, 4) or 0.0001,
            side="B" if rng.random() < 0.5 else "A",
            tid=i,
        )
        for i in range(count)
    ]


def fill_broker(broker: TansuBroker, trades: list[Trade], partitions: int) -> None:
    ensure_topics(broker.admin(), [TopicSpec(name, partitions) for name in MARKET_TOPICS])
    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 2_000_000,
        }
    )
    for index, trade in enumerate(trades):
        producer.produce("md.trades", encode(trade), trade.coin.encode())
        if index % 10_000 == 0:
            producer.poll(0)
    if producer.flush(60) != 0:
        raise RuntimeError("broker did not acknowledge every benchmark message")


def bare_loop(broker: TansuBroker, store: Store, partitions: int) -> None:
    """Consume every md.trades message, decode, convert to columns and insert (the baseline)."""
    config = {
        "bootstrap.servers": broker.bootstrap_servers,
        "group.id": "bench-bare",
        "enable.auto.commit": "false",
        "enable.partition.eof": "true",
        **CONSUMER_CONFIG,
    }
    consumer = Consumer(config)
    consumer.assign([TopicPartition("md.trades", p, OFFSET_BEGINNING) for p in range(partitions)])
    decoder = msgspec.json.Decoder(Trade)
    columns = list(Trade.__struct_fields__)
    rows: list[tuple] = []
    finished = 0
    while finished < partitions:
        for message in consumer.consume(10_000, 0.1):
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    finished += 1
                    continue
                raise RuntimeError(str(error))
            rows.append(msgspec.structs.astuple(decoder.decode(message.value())))
        if len(rows) >= BARE_INSERT_ROWS or (finished == partitions and rows):
            store.insert_columns("trades", list(zip(*rows)), columns)
            rows = []
    consumer.close()


def flow_run(broker: TansuBroker, settings: StorageSettings, workdir: Path, workers: int, recovery: bool) -> None:
    flow = build_ingest_flow(
        market_data_source([broker.bootstrap_servers], tail=False),
        ClickHouseSink(settings, partitions=workers),
        DeadLetterSink(workdir / "dead"),
    )
    if recovery:
        directory = Path(tempfile.mkdtemp(dir=workdir, prefix="recovery-"))
        config = prepare_recovery(directory, "bench_ingest")
        run_main(flow, epoch_interval=timedelta(seconds=2), recovery_config=config)
    elif workers == 1:
        run_main(flow)
    else:
        cli_main(flow, workers_per_process=workers)


def embedded_run(
    trades: list[Trade], settings: StorageSettings, workdir: Path, journal: bool, appended: list[float]
) -> None:
    """Emit ``trades`` from a collector thread into the embedded source while the flow stores them."""
    if journal:
        directory = Path(tempfile.mkdtemp(dir=workdir, prefix="embedded-"))
        source: QueueSource | Journal = Journal(directory / "journal")
        recovery = prepare_recovery(directory / "recovery", "bench_ingest --embedded")
    else:
        source, recovery = QueueSource(), None

    def collect() -> None:
        started = time.perf_counter()
        emit = source.emit
        for trade in trades:
            emit("md.trades", trade.coin, trade)
        appended.append(time.perf_counter() - started)
        source.close()

    collector = threading.Thread(target=collect)
    flow = build_ingest_flow(source, ClickHouseSink(settings), DeadLetterSink(workdir / "dead"))
    collector.start()
    run_main(flow, epoch_interval=timedelta(seconds=2), recovery_config=recovery)
    collector.join()


def reset(store: Store) -> None:
    for table in TABLES:
        store.command(f"TRUNCATE TABLE {table}")
    gc.collect()


def parity(store: Store) -> tuple:
    return tuple(store.query(PARITY_SQL)[0])


def main() -> None:
    parser = arguments(__doc__, "ingest", seed=None)
    parser.add_argument("--events", type=int, default=400_000, help="trades on the topic")
    parser.add_argument("--partitions", type=int, default=2, help="partitions of md.trades")
    args = parser.parse_args()

    # The same process-wide setting `pairflow ingest` uses, applied to every path alike.
    tune_gc_for_throughput()
    trades = make_trades(args.events, seed=42)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp, TansuBroker() as broker:
        workdir = Path(tmp)
        fill_broker(broker, trades, args.partitions)
        settings = StorageSettings(dsn=f"chdb://{workdir / 'chdb'}", spill_dir=workdir / "spill")
        store = connect(settings)
        store.init_schema()
        emitted: dict[str, list[float]] = {"queue": [], "journal": []}
        paths: dict[str, Callable[[], None]] = {
            "bare loop (baseline)": lambda: bare_loop(broker, store, args.partitions),
            "flow, 1 worker": lambda: flow_run(broker, settings, workdir, 1, recovery=False),
            "flow, 1 worker, recovery every 2 s": lambda: flow_run(broker, settings, workdir, 1, recovery=True),
            "flow, 2 workers": lambda: flow_run(broker, settings, workdir, 2, recovery=False),
            "embedded, queue": lambda: embedded_run(trades, settings, workdir, False, emitted["queue"]),
            "embedded, journal, recovery every 2 s": lambda: embedded_run(
                trades, settings, workdir, True, emitted["journal"]
            ),
        }
        expected = None
        for name, action in paths.items():
            reset(store)
            action()
            got = parity(store)
            expected = expected or got
            if got != expected or got[0] != args.events:
                sys.exit(f"parity failed for {name}: {got} != {expected} (expected {args.events} trades)")
            if name.startswith("flow"):
                bar_trades = store.query("SELECT sum(trades) FROM bars_1s FINAL")[0][0]
                if bar_trades != args.events:
                    sys.exit(f"parity failed for {name}: 1 s bars hold {bar_trades} trades, expected {args.events}")
            print(f"parity ok: {name}", flush=True)

        best = {name: float("inf") for name in paths}
        for _ in range(args.repeats):
            for name, action in paths.items():
                reset(store)
                started = time.perf_counter()
                action()
                best[name] = min(best[name], time.perf_counter() - started)
        bars = store.query("SELECT count() FROM bars_1s FINAL")[0][0]
        store.close()

    baseline = args.events / best["bare loop (baseline)"]
    lines = [
        "## Ingest: tansu -> Bytewax ingest flow -> chDB",
        "",
        *provenance(),
        "- bytewax 0.21.1, broker: tansu (memory storage) on 127.0.0.1",
        f"- command: `.venv/bin/python benchmarks/bench_ingest.py --events {args.events} --repeats {args.repeats}"
        f" --partitions {args.partitions}`",
        f"- workload: {args.events:,} trades (JSON, 8 coins, {args.partitions} partitions);"
        f" flow also derives {bars:,} 1 s bars + 1 m bars",
        "- parity: identical trades in every path (count, distinct ids, row hash);"
        " flow bars account for every trade",
        "- 2 workers are threads of one process (chDB admits one process per directory), so they share"
        " the GIL: little or no scaling is expected while Python work per event dominates",
        "- the machine is shared with other jobs; compare paths within this block only",
        "",
        "| path | best s | events/s | vs bare loop |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds in best.items():
        rate = args.events / seconds
        lines.append(f"| {name} | {seconds:.2f} | {rate:,.0f} | {rate / baseline:.2f}x |")
    lines += [
        "",
        "Collector side of the embedded paths (emit every event, best run; the journal's is its whole",
        "durability cost to the collector):",
        "",
        "| emit into | µs per event |",
        "|---|---:|",
    ]
    for name, seconds in emitted.items():
        lines.append(f"| {name} | {min(seconds) / args.events * 1e6:.2f} |")
    publish("\n".join(lines) + "\n", "ingest", args.write)


if __name__ == "__main__":
    main()
