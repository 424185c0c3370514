"""Signed order round trips through the venue's HTTP layer vs signature recovery alone, per eth-keys backend.

Run: ``.venv/bin/python benchmarks/bench_venue_http.py [--orders N] [--repeats R] [--write]``.

Every measurement runs twice in one invocation, in a fresh process per eth-keys backend
(selected with ``ECC_BACKEND_CLASS``, inherited by the venue's process): the pure-Python
``NativeECCBackend`` as the same-run baseline, then ``CoinCurveECCBackend`` (libsecp256k1),
which eth-keys picks by default now that coincurve is a dependency. The venue runs in a child
process (as ``pairflow venue serve`` would), so client and server do not share one GIL. Three
measurements per backend, on the same pre-built payloads:

* baseline: ``recover_agent_or_user_from_l1_action`` (the SDK's recovery) over the payloads;
* SDK latency: sequential ``Exchange.order`` calls (client signing + HTTP + verification + matching),
  p50 / p99;
* throughput: two client threads posting the pre-signed payloads through the SDK's ``API.post``,
  and two threads calling ``Exchange.order`` end to end.

Parity: every pre-signed payload must recover to its own wallet, and every HTTP response (warmup
included) must report the order ``resting``, or the run aborts. Best of ``repeats`` after a warmup.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import eth_account  # noqa: E402
from eth_keys import KeyAPI  # noqa: E402
from hyperliquid.api import API  # noqa: E402
from hyperliquid.exchange import Exchange  # noqa: E402
from hyperliquid.utils.signing import recover_agent_or_user_from_l1_action, sign_l1_action  # noqa: E402

from benchmarks.machine import arguments, cpu_model, publish  # noqa: E402
from tests.support.venue import run_venue  # noqa: E402
from venue.engine import AssetSpec, Engine  # noqa: E402

ASSETS = [AssetSpec("BTC", 5, 40), AssetSpec("ETH", 4, 25)]
CLIENT_THREADS = 2
GTC = {"limit": {"tif": "Gtc"}}
BACKENDS = {"pure Python": "eth_keys.backends.NativeECCBackend", "coincurve": "eth_keys.backends.CoinCurveECCBackend"}


def backend_name() -> str:
    return type(KeyAPI().backend).__name__


def serve(addresses: list[str], ready, stop) -> None:
    """Child process: fund the wallets, serve the venue and report its URL until told to stop."""
    engine = Engine(ASSETS, now_ms=time.time_ns() // 1_000_000)
    engine.set_oracle("BTC", 60_000.0)
    engine.set_oracle("ETH", 2_000.0)
    for address in addresses:
        engine.fund(address, 10_000_000)
    with run_venue(engine, log_level="error") as url:
        ready.put((url, backend_name()))
        stop.wait()


def order_action(index: int) -> dict:
    """Return a resting ETH buy whose price varies so payloads differ."""
    price = 1_500 + index % 400
    return {"type": "order", "orders": [{"a": 1, "b": True, "p": str(price), "s": "0.01", "r": False, "t": GTC}],
            "grouping": "na"}


def presign(wallets: list, count: int, nonce_base: int) -> list[tuple[object, dict]]:
    """Sign ``count`` order payloads round-robin over wallets, with distinct nonces."""
    payloads = []
    for index in range(count):
        wallet = wallets[index % len(wallets)]
        action = order_action(index)
        nonce = nonce_base + index
        signature = sign_l1_action(wallet, action, None, nonce, None, False)
        payloads.append((wallet, {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": None,
                                  "expiresAfter": None}))
    return payloads


def recover_all(payloads: list[tuple[object, dict]]) -> float:
    """Return seconds spent recovering every payload's signer (and check each one)."""
    start = time.perf_counter()
    for wallet, body in payloads:
        signer = recover_agent_or_user_from_l1_action(body["action"], body["signature"], None, body["nonce"], None,
                                                      False)
        if signer != wallet.address:
            raise SystemExit(f"parity failed: recovered {signer}, expected {wallet.address}")
    return time.perf_counter() - start


def check_response(response: dict) -> None:
    status = response["response"]["data"]["statuses"][0] if response.get("status") == "ok" else response
    if "resting" not in status:
        raise SystemExit(f"parity failed: order did not rest: {response}")


def post_presigned(url: str, payloads: list[tuple[object, dict]]) -> float:
    """Post payloads from CLIENT_THREADS threads through the SDK's API.post; return elapsed seconds."""
    chunks = [payloads[i::CLIENT_THREADS] for i in range(CLIENT_THREADS)]

    def worker(chunk: list) -> None:
        api = API(url)
        for _, body in chunk:
            check_response(api.post("/exchange", body))

    return run_threads(worker, chunks)


def sdk_orders(exchanges: list[Exchange], count: int) -> float:
    """Place ``count`` orders with Exchange.order from CLIENT_THREADS threads; return elapsed seconds."""
    per_thread = count // CLIENT_THREADS

    def worker(exchange: Exchange) -> None:
        for index in range(per_thread):
            check_response(exchange.order("ETH", True, 0.01, float(1_500 + index % 400), GTC))

    return run_threads(worker, exchanges[:CLIENT_THREADS])


def run_threads(worker, items: list) -> float:
    threads = [threading.Thread(target=worker, args=(item,)) for item in items]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def sdk_latency(exchange: Exchange, count: int) -> list[float]:
    """Return per-order wall latencies (ms) of sequential Exchange.order calls."""
    latencies = []
    for index in range(count):
        start = time.perf_counter()
        check_response(exchange.order("ETH", True, 0.01, float(1_900 - index % 300), GTC))
        latencies.append((time.perf_counter() - start) * 1_000)
    return latencies


def measure(orders: int, repeats: int) -> dict:
    """Run every measurement with this process's eth-keys backend; return rates and latencies."""
    # wallets 0-1 post pre-signed payloads, 2-3 the threaded SDK run, 4-5 the latency run (spreads open orders)
    wallets = [eth_account.Account.create() for _ in range(6)]
    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    stop = context.Event()
    child = context.Process(
        target=serve, args=([w.address for w in wallets], ready, stop), daemon=True)
    child.start()
    try:
        url, server_backend = ready.get(timeout=60)
        if server_backend != backend_name():
            raise SystemExit(f"parity failed: venue runs {server_backend}, client {backend_name()}")
        nonce_base = time.time_ns() // 1_000_000
        warm = presign(wallets, 20, nonce_base)
        post_presigned(url, warm)
        exchanges = [Exchange(wallet, url) for wallet in wallets]
        sdk_latency(exchanges[2], 10)

        recover_s, post_s, sdk_s = [], [], []
        latencies: list[float] = []
        for repeat in range(repeats):
            base = nonce_base + 1_000_000 * (repeat + 1)
            payloads = presign(wallets[:2], orders, base)
            recover_s.append(recover_all(payloads))
            post_s.append(post_presigned(url, payloads))
            sdk_s.append(sdk_orders(exchanges[2:4], orders))
            latencies += sdk_latency(exchanges[4 + repeat % 2], max(50, orders // 3))
    finally:
        stop.set()
        child.join(20)
    latencies.sort()
    return {
        "backend": backend_name(),
        "recover": orders / min(recover_s),
        "post": orders / min(post_s),
        "sdk": (orders // CLIENT_THREADS * CLIENT_THREADS) / min(sdk_s),
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "latencies": len(latencies),
    }


def measure_in_child(backend_class: str, orders: int, repeats: int) -> dict:
    """Run `measure` in a fresh interpreter whose eth-keys (and venue) use ``backend_class``."""
    command = [sys.executable, __file__, "--orders", str(orders), "--repeats", str(repeats), "--json"]
    done = subprocess.run(command, env={**os.environ, "ECC_BACKEND_CLASS": backend_class}, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{backend_class} run failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["backend"] != backend_class.rsplit(".", 1)[1]:
        raise SystemExit(f"parity failed: asked for {backend_class}, ran {result['backend']}")
    return result


def main() -> None:
    parser = arguments(__doc__, "venue_http", seed=None)
    parser.add_argument("--orders", type=int, default=300, help="orders per timed run (default 300)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one backend, as a child run
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.orders, args.repeats)))
        return

    load_before = os.getloadavg()[0]
    results = {label: measure_in_child(backend, args.orders, args.repeats) for label, backend in BACKENDS.items()}
    load_after = os.getloadavg()[0]
    rows = []
    for label, result in results.items():
        rows += [
            f"| {label} | SDK `recover_agent_or_user_from_l1_action` only | {result['recover']:.0f} "
            f"| {1000 / result['recover']:.2f} ms |",
            f"| {label} | HTTP, pre-signed payloads via SDK `API.post` | {result['post']:.0f} "
            f"| {1000 / result['post']:.2f} ms |",
            f"| {label} | HTTP, SDK `Exchange.order` end to end (client signs too) | {result['sdk']:.0f} "
            f"| {1000 / result['sdk']:.2f} ms |",
        ]
    latency = "\n".join(f"- {label}: p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms ({r['latencies']} orders)"
                         for label, r in results.items())
    base, fast = results["pure Python"], results["coincurve"]
    command = "benchmarks/bench_venue_http.py " + " ".join(sys.argv[1:])
    block = f"""## Venue HTTP order round trips (`venue_http`)

- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}
- machine: {cpu_model()}, {multiprocessing.cpu_count()} cores, {platform.system()} {platform.release()};
  1-min load average {load_before:.1f} before / {load_after:.1f} after (other jobs share the machine)
- Python {platform.python_version()}, hyperliquid-python-sdk 0.24.0, uvicorn (h11, websockets-sansio)
- command: `.venv/bin/python {command.strip()}`
- setup: one process per eth-keys backend (client, venue child inherits it); venue in a child process;
  {CLIENT_THREADS} client threads; resting ETH Gtc orders, {args.orders} per run, best of {args.repeats} after a
  warmup; every response checked `resting`, every recovery checked against its key

| eth-keys backend | measurement | orders/s | per order |
|---|---|---:|---:|
{chr(10).join(rows)}

Sequential `Exchange.order` latency:
{latency}

coincurve vs pure Python, same run: SDK `Exchange.order` end to end **{fast['sdk'] / base['sdk']:.1f}x**,
pre-signed **{fast['post'] / base['post']:.1f}x**, recovery alone **{fast['recover'] / base['recover']:.1f}x**.
"""
    publish(block, "venue_http", args.write)


if __name__ == "__main__":
    main()
