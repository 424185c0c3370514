"""API latency and throughput under 100 clients each holding a WebSocket, and WebSocket fan-out latency.

Run: ``.venv/bin/python benchmarks/bench_api.py [--clients 100] [--seconds 8] [--write]``.

A server process (``--serve``, uvicorn on one event loop, embedded chDB in a
temporary directory) holds seeded data: 10 spreads x 2,000 signals and a
portfolio PnL series of 20,000 rows. The client process opens ``clients``
WebSockets (topic ``signals``) and, for each endpoint in turn, runs one
request loop per client for ``seconds``, so every request is made while 100
sockets are open. Paths:

* ``trivial`` — a FastAPI endpoint returning a constant, in the same app (baseline).
* ``spread list`` — ``GET /api/spreads`` (latest state, 60 z-scores per spread, half-lives).
* ``PnL series`` — ``GET /api/pnl?limit=1000`` (one page of the series).

Parity before timing: the spread list has every seeded spread with its
2,000 signals and the newest z-score, the PnL page the 1,000 oldest rows in
order. Fan-out: the server publishes 1,000 events/s for ``seconds`` through
the stream hub; each client records the time from publish to receipt
(``time.time_ns`` on both sides, same machine); p50/p99 over all receipts,
and every client must receive every event.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import websockets  # noqa: E402

from benchmarks.machine import arguments, commit, machine_line, percentile, publish  # noqa: E402
from tests.helpers import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAIRS = [f"C{i}/D{i}" for i in range(10)]
SIGNALS_PER_PAIR = 2_000
PNL_ROWS = 20_000
START = 1_790_000_000_000


def seed(store) -> None:
    """Insert the seeded signals and PnL rows."""
    columns: dict[str, list] = {name: [] for name in (
        "ts", "recv_ts", "id", "pair", "hedge_ratio", "spread", "zscore", "target", "reason", "legs",
        "hedge_ratios", "leg_targets")}
    for p, pair in enumerate(PAIRS):
        for i in range(SIGNALS_PER_PAIR):
            ts = START + i * 1000
            values = (ts, ts + 1, f"{pair}:{ts}", pair, 1.0 + p / 10, 0.001 * i, ((i * 37 + p) % 400) / 100 - 2, 0.0,
                      "hold", pair.split("/"), [1.0 + p / 10], [0.0, 0.0])
            for name, value in zip(columns, values, strict=True):
                columns[name].append(value)
    store.insert_columns("signals", list(columns.values()), list(columns))
    pnl = [[START + i * 1000 for i in range(PNL_ROWS)], [0] * PNL_ROWS, [f"p{i}" for i in range(PNL_ROWS)],
           ["portfolio"] * PNL_ROWS, [i * 0.01 for i in range(PNL_ROWS)], [0.0] * PNL_ROWS, [0.0] * PNL_ROWS,
           [0.0] * PNL_ROWS, [i * 0.01 for i in range(PNL_ROWS)]]
    store.insert_columns("pnl", pnl, ["ts", "recv_ts", "id", "scope", "realized_pnl", "unrealized_pnl", "fees",
                                      "funding", "equity"])


def serve(directory: str, port: int) -> None:
    """Server process: seeded store, the API plus the benchmark's trivial and fan-out endpoints."""
    from api.app import create_app
    from api.auth import TokenGuard
    from api.context import ApiContext
    from api.server import ApiServer
    from pairflow.config import Settings, StorageSettings
    from pairflow.storage import connect

    store = connect(StorageSettings(dsn=f"chdb://{directory}/db", spill_dir=Path(directory) / "spill"))
    store.init_schema()
    seed(store)
    app = create_app(ApiContext(store=store, settings=Settings(), guard=TokenGuard("b" * 20), ws_queue_size=4096))

    @app.get("/bench/trivial")
    def trivial() -> dict[str, int]:
        return {"ok": 1}

    @app.post("/bench/fanout")
    def fanout(rate: int, seconds: float) -> dict[str, int]:
        def publish() -> None:
            hub = app.state.hub
            period = 1 / rate
            begin = time.monotonic()
            for n in range(int(rate * seconds)):
                delay = begin + n * period - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                hub.publish("signals", [{"n": n, "sent_ns": time.time_ns()}])

        threading.Thread(target=publish, daemon=True).start()
        return {"events": int(rate * seconds)}

    server = ApiServer(app, port=port)
    server.start()
    print("ready", flush=True)
    sys.stdin.read()  # until the client process closes our stdin
    server.stop()
    store.close()


async def load(url: str, path: str, clients: int, seconds: float) -> tuple[list[float], int]:
    """Return the latencies of the requests that succeeded and the number that failed at the transport."""
    latencies: list[float] = []
    failed = 0
    async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=clients), timeout=30) as client:
        deadline = time.monotonic() + seconds

        async def loop() -> None:
            while time.monotonic() < deadline:
                nonlocal failed
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                except httpx.TransportError:  # a keep-alive connection the server closed as it was reused
                    failed += 1
                    continue
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text

        await asyncio.gather(*(loop() for _ in range(clients)))
    return latencies, failed


async def bench(url: str, clients: int, seconds: float) -> tuple[dict, dict]:
    ws_url = url.replace("http", "ws", 1) + "/api/ws?topics=signals"
    sockets = [await websockets.connect(ws_url, max_size=None, ping_interval=None) for _ in range(clients)]
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            spreads = (await client.get("/api/spreads")).json()
            assert [s["pair"] for s in spreads] == sorted(PAIRS)
            assert all(s["signals"] == SIGNALS_PER_PAIR and len(s["recent_z"]) == 60 for s in spreads)
            last = SIGNALS_PER_PAIR - 1
            assert all(s["zscore"] == ((last * 37 + p) % 400) / 100 - 2 for p, s in enumerate(spreads))
            pnl = (await client.get("/api/pnl", params={"limit": 1000})).json()
            assert pnl["total"] == PNL_ROWS and [row["ts"] for row in pnl["items"]] == [START + i * 1000 for i in range(1000)]
        paths = {"trivial": "/bench/trivial", "spread list": "/api/spreads", "PnL series": "/api/pnl?limit=1000"}
        for path in paths.values():  # warmup
            await load(url, path, clients, 1.0)
        rest = {}
        for name, path in paths.items():
            latencies, failed = await load(url, path, clients, seconds)
            rest[name] = (percentile(latencies, 0.5), percentile(latencies, 0.99), len(latencies) / seconds, failed)

        received: list[list[float]] = [[] for _ in sockets]

        async def read(index: int, ws, expected: int) -> None:
            while len(received[index]) < expected:
                message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                for row in message["rows"]:
                    received[index].append((time.time_ns() - row["sent_ns"]) / 1e6)

        rate = 1000
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            expected = (await client.post("/bench/fanout", params={"rate": rate, "seconds": seconds})).json()["events"]
        await asyncio.gather(*(read(i, ws, expected) for i, ws in enumerate(sockets)))
        assert all(len(r) == expected for r in received), "a client missed events"
        flat = [value for r in received for value in r]
        fan = {"rate": rate, "events": expected, "clients": clients, "p50": percentile(flat, 0.5),
               "p99": percentile(flat, 0.99), "max": max(flat)}
        return rest, fan
    finally:
        for ws in sockets:
            await ws.close()


def main() -> None:
    parser = arguments(__doc__, "api", repeats=None, seed=None)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pairflow-bench-api-") as directory:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PAIRFLOW_LOGGING__LEVEL": "WARNING"}
        server = subprocess.Popen([sys.executable, __file__, "--serve", directory, str(port)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, env=env, text=True)
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            rest, fan = asyncio.run(bench(f"http://127.0.0.1:{port}", args.clients, args.seconds))
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(30)
    lines = [
        "# API under 100 WebSocket clients",
        "",
        f"- machine: {machine_line()} (shared with other jobs)",
        f"- date: {datetime.date.today()}, commit: {commit()}",
        f"- command: `.venv/bin/python benchmarks/bench_api.py --clients {args.clients} --seconds {args.seconds:g}`",
        "- server: one uvicorn process (one event loop, sync endpoints in its thread pool), embedded chDB;"
        f" client: another process, {args.clients} WebSockets open and {args.clients} concurrent request loops",
        f"- data: {len(PAIRS)} spreads x {SIGNALS_PER_PAIR:,} signals, PnL series of {PNL_ROWS:,} rows;"
        " parity checked before timing (every spread, its count and newest z; the PnL page's rows in order)",
        "",
        "| endpoint | p50 (ms) | p99 (ms) | requests/s | vs trivial (throughput) | transport errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    base = rest["trivial"][2]
    for name, (p50, p99, throughput, failed) in rest.items():
        lines.append(
            f"| {name} | {p50 * 1000:.1f} | {p99 * 1000:.1f} | {throughput:,.0f} | {throughput / base:.2f}x | {failed} |"
        )
    lines += [
        "",
        f"WebSocket fan-out: {fan['events']:,} events at {fan['rate']:,}/s to {fan['clients']} clients, every client"
        f" received every event; publish-to-receipt p50 {fan['p50']:.1f} ms, p99 {fan['p99']:.1f} ms,"
        f" max {fan['max']:.1f} ms.",
    ]
    publish("\n".join(lines) + "\n", "api", args.write)


if __name__ == "__main__":
    main()
