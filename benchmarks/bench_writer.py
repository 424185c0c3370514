"""BatchWriter throughput into embedded chDB vs a bare columnar ``client.insert`` of the same rows.

Run: ``.venv/bin/python benchmarks/bench_writer.py [--rows N] [--repeats R] [--write]``.

Every path first loads the same seeded trade rows into an empty ``trades``
table and must leave identical contents (row count, distinct ids and an
order-independent hash over every full row: parity); then each path is timed ``repeats`` times
after that warmup, round-robin across paths so background load hits all
of them alike, and the best run is reported. Timings include the final
flush, i.e. until every row is in the store.

Paths:

* ``bare insert`` — one ``client.insert(..., column_oriented=True)`` of all columns (baseline).
* ``writer, add_columns`` — the columns handed to `BatchWriter.add_columns` in one call.
* ``writer, 10k-row chunks`` — 100 ``add_columns`` calls of 10,000 rows, flushed every 250,000 rows.
* ``writer, events`` — 1M `Trade` events via `BatchWriter.add_many` (includes event-to-column conversion).
"""

from __future__ import annotations

import datetime
import gc
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import clickhouse_connect  # noqa: E402

from benchmarks.machine import arguments, commit, cpu_model, publish  # noqa: E402
from pairflow import events  # noqa: E402
from pairflow.config import StorageSettings  # noqa: E402
from pairflow.storage import BatchWriter, Store, connect  # noqa: E402

COLUMNS = list(events.Trade.__struct_fields__)
COINS = ["BTC", "ETH", "SOL", "HYPE", "DOGE", "AVAX", "LINK", "ARB"]
# Order-independent and exact: a wrapping UInt64 sum of a hash of every full row.
PARITY_SQL = (
    "SELECT count(), uniqExact(id), sum(cityHash64(ts, recv_ts, id, coin, px, sz, side, tid, hash)) FROM trades"
)


def make_columns(rows: int, seed: int) -> list[list]:
    """Build seeded trade columns in the order of `events.Trade` fields."""
    rng = random.Random(seed)
    start = 1_790_000_000_000
    ts = [start + i * 3 for i in range(rows)]
    return [
        ts,
        [t + rng.randint(1, 40) for t in ts],
        [f"{i:012x}" for i in range(rows)],
        [COINS[rng.randrange(len(COINS))] for _ in range(rows)],
        [round(100 + rng.random() * 10, 4) for _ in range(rows)],
        [round(rng.random() * 5, 6) for _ in range(rows)],
        ["B" if rng.random() < 0.5 else "A" for _ in range(rows)],
        list(range(rows)),
        [""] * rows,
    ]


def as_events(columns: list[list]) -> list[events.Trade]:
    """Turn the columns into the equivalent `Trade` events."""
    return [events.Trade(**dict(zip(COLUMNS, values))) for values in zip(*columns)]


def timed(store: Store, action: Callable[[], None]) -> tuple[float, float]:
    """Run ``action`` on an empty table; return (wall seconds, process CPU seconds)."""
    store.command("TRUNCATE TABLE trades")
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - started, time.process_time() - cpu_started


def machine() -> dict[str, str]:
    cpu = cpu_model()
    import chdb

    return {
        "cpu": f"{cpu} ({_cpu_count()} cores)",
        "python": platform.python_version(),
        "chdb": chdb.__version__,
        "clickhouse-connect": clickhouse_connect.__version__,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": " ".join(f"{value:.2f}" for value in os.getloadavg()),
        "commit": commit("pairflow", "benchmarks/bench_writer.py", "infra/clickhouse"),
    }


def _cpu_count() -> int:
    return os.cpu_count() or 0


def main() -> None:
    parser = arguments(__doc__, "writer")
    parser.add_argument("--rows", type=int, default=1_000_000, help="trade rows per run")
    args = parser.parse_args()

    columns = make_columns(args.rows, args.seed)
    trade_events = as_events(columns)
    chunk = 10_000

    with tempfile.TemporaryDirectory(prefix="pairflow-bench-") as directory:
        settings = StorageSettings(dsn=f"chdb://{directory}/db", spill_dir=Path(directory) / "spill")
        store = connect(settings)
        store.init_schema()
        bare_client = clickhouse_connect.get_client(interface="chdb", path=str(Path(directory) / "db"))

        def bare() -> None:
            bare_client.insert("trades", columns, column_names=COLUMNS, column_oriented=True)

        def writer_columns() -> None:
            with BatchWriter(store, "trades", settings=settings, max_rows=args.rows, background=False) as writer:
                writer.add_columns(columns)

        chunks = [[column[start:start + chunk] for column in columns] for start in range(0, args.rows, chunk)]

        def writer_chunks() -> None:
            with BatchWriter(store, "trades", settings=settings, max_rows=250_000, background=False) as writer:
                for part in chunks:
                    writer.add_columns(part)

        def writer_events() -> None:
            with BatchWriter(store, "trades", settings=settings, max_rows=args.rows, background=False) as writer:
                writer.add_many(trade_events)

        paths = {
            "bare insert": bare,
            "writer, add_columns": writer_columns,
            "writer, 10k-row chunks": writer_chunks,
            "writer, events": writer_events,
        }
        parity = {}
        for name, action in paths.items():
            timed(store, action)
            parity[name] = store.query(PARITY_SQL)[0]
        reference = parity["bare insert"]
        stored = reference[0]
        assert stored == reference[1] == args.rows, f"bare insert stored {stored} rows, expected {args.rows}"
        for name, result in parity.items():
            assert result == reference, f"parity failed: {name} stored {result}, bare insert {reference}"

        best = dict.fromkeys(paths, (float("inf"), float("inf")))
        for _ in range(args.repeats):
            for name, action in paths.items():
                wall, cpu = timed(store, action)
                best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
        bare_client.close()
        store.close()

    info = machine()
    baseline, baseline_cpu = best["bare insert"]
    lines = [
        "# BatchWriter into embedded chDB",
        "",
        f"- machine: {info['cpu']}, Python {info['python']}, chdb {info['chdb']},"
        f" clickhouse-connect {info['clickhouse-connect']}",
        f"- date: {info['date']}, commit: {info['commit']}, load average (1/5/15 min) after the run: {info['load']}",
        f"- command: `.venv/bin/python benchmarks/bench_writer.py --rows {args.rows} --repeats {args.repeats}`",
        f"- parity: every path stored exactly {args.rows:,} rows with identical count, distinct ids and"
        " sum of cityHash64 over every full row (exact equality) before timing",
        f"- timing: one warmup run per path, then {args.repeats} round-robin rounds, best reported;"
        " each run starts from an empty table and includes the final flush",
        "- the machine is shared with other jobs: the process-CPU-time columns are the less noisy figures",
        "",
        "| path | best wall (s) | rows/s (wall) | vs bare (wall) | best CPU (s) | rows/s (CPU) | vs bare (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (wall, cpu) in best.items():
        lines.append(
            f"| {name} | {wall:.3f} | {args.rows / wall:,.0f} | {baseline / wall:.2f}x"
            f" | {cpu:.3f} | {args.rows / cpu:,.0f} | {baseline_cpu / cpu:.2f}x |"
        )
    publish("\n".join(lines) + "\n", "writer", args.write)


if __name__ == "__main__":
    main()
