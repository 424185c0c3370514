"""Support for the ingest integration tests.

A reproducible market-data tape (trades with disorder, duplicates and junk),
broker helpers, the ``pairflow ingest`` subprocess launcher, the
exactly-once check against a batch computation, and reading md.bars back.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import bytewax.operators as op
import msgspec
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, run_main
from confluent_kafka import Producer

from flows.ingest import bars_from_topic
from pairflow.config import StorageSettings
from pairflow.events import MARKET_TOPICS, Bar, BookLevel, L2Book, Trade, encode
from pairflow.storage import Store
from pairflow.topics import TopicSpec, ensure_topics
from sources.kafka_source import market_data_source
from tests.bars_reference import batch_bars
from tests.broker import TansuBroker, consume_to_end
from tests.helpers import eventually
from tests.metrics_support import metric

REPO = Path(__file__).resolve().parents[2]
BAR_COLUMNS = "id, open, high, low, close, volume, notional, vwap, trades, buy_volume, sell_volume"
BASE_TS = 1_750_000_000_000
COINS = ("BTC", "ETH", "SOL")
MALFORMED = (
    b'{"ts": 1750000000000, "id": "broken", "coin": "BTC", "px": 1.0',
    b'{"ts": 1750000000000, "id": "neg", "coin": "BTC", "px": -5.0, "sz": 1.0, "side": "B"}',
    b'{"ts": 1750000000000, "id": "nosize", "coin": "BTC", "px": 5.0, "side": "B"}',
    b'{"ts": 1750000000000, "id": "text", "coin": "BTC", "px": "cheap", "sz": 1.0, "side": "B"}',
    b"\xff\xfe not json at all",
)


@dataclass
class Tape:
    """Messages in send order and the unique trades they contain."""

    messages: list[tuple[str, bytes, bytes]]
    trades: list[Trade]
    books: int


def make_tape(count: int, seed: int = 7, start_index: int = 0, with_junk: bool = True) -> Tape:
    """Return ``count`` unique trades over 3 coins, sent with disorder, ~2% duplicates and junk.

    Most trades arrive in time order with jitter inside the 2 s lateness; 1% arrive
    5-20 s late (their bars are revised); duplicates are re-sent anywhere later.
    """
    rng = random.Random(seed)
    trades = []
    for index in range(start_index, start_index + count):
        coin = COINS[index % len(COINS)]
        trades.append(
            Trade(
                id=f"{coin}:{index}",
                coin=coin,
                ts=BASE_TS + index * 7,
                recv_ts=BASE_TS + index * 7 + 40,
                px=round(100.0 + rng.randrange(-5_000, 5_000) / 100, 2),
                sz=rng.randrange(1, 100_000) / 1_000,
                side=rng.choice("BA"),
                tid=index,
            )
        )
    arrival = []
    for trade in trades:
        delay = rng.randrange(5_000, 20_000) if rng.random() < 0.01 else rng.randrange(0, 1_500)
        arrival.append((trade.ts + delay, trade))
    for trade in rng.sample(trades, k=max(1, count // 50)):
        arrival.append((trade.ts + rng.randrange(0, 30_000), trade))
    arrival.sort(key=lambda pair: pair[0])
    messages = [("md.trades", trade.coin.encode(), encode(trade)) for _, trade in arrival]
    books = 0
    for step in range(0, count * 7, 250):
        book = L2Book(
            id=f"ETH:book:{start_index}:{step}",
            coin="ETH",
            ts=BASE_TS + start_index * 7 + step,
            bids=(BookLevel(2_000.0 - step % 3, 1.0 + step % 5),),
            asks=(BookLevel(2_001.0, 2.0),),
        )
        position = min(len(messages), step // 7 + books)
        messages.insert(position, ("md.l2", b"ETH", encode(book)))
        books += 1
    if with_junk:
        for offset, junk in enumerate(MALFORMED):
            messages.insert(len(messages) * (offset + 1) // (len(MALFORMED) + 1), ("md.trades", b"BTC", junk))
    return Tape(messages, trades, books)


def chdb_settings(directory: Path) -> StorageSettings:
    """Return storage settings for a chDB store in ``directory/chdb`` that spills to ``directory/spill``."""
    return StorageSettings(dsn=f"chdb://{directory / 'chdb'}", spill_dir=directory / "spill")


def create_topics(broker: TansuBroker, partitions: int = 2) -> None:
    """Create every market-data topic with ``partitions`` partitions."""
    ensure_topics(broker.admin(), [TopicSpec(name, partitions) for name in MARKET_TOPICS])


def produce(broker: TansuBroker, messages: list[tuple[str, bytes, bytes]]) -> None:
    """Send messages in order and wait until the broker acknowledged all of them."""
    failures = []
    producer = Producer(
        {"bootstrap.servers": broker.bootstrap_servers, "linger.ms": 5, "enable.idempotence": True}
    )
    for topic, key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=lambda error, _: error and failures.append(error))
                break
            except BufferError:  # the local queue is full (large benchmark loads): let deliveries drain it
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(30)
    assert remaining == 0 and not failures, f"{remaining} unsent, failures: {failures[:3]}"


def start_pairflow(
    tmp_path: Path, command: str, *arguments: str, metrics_port: int = 0, extra_env: dict[str, str] | None = None,
    code: Path = REPO, module: str = "app",
) -> subprocess.Popen:
    """Start ``pairflow <command> <arguments>`` storing into ``tmp_path/chdb``; output goes to <command>.log.

    ``code`` is where its packages are imported from: this checkout, or an installed wheel's directory;
    ``module`` the module run instead of the CLI (a test launcher, `tests.support.staggered_ingest`).
    """
    env = dict(
        os.environ,
        PYTHONPATH=str(code),
        PAIRFLOW_STORAGE__DSN=f"chdb://{tmp_path / 'chdb'}",
        PAIRFLOW_STORAGE__SPILL_DIR=str(tmp_path / "spill"),
        PAIRFLOW_METRICS__PORT=str(metrics_port),
        PAIRFLOW_BROKER__PARTITIONS="2",
        PAIRFLOW_LOGGING__LEVEL="WARNING",
    ) | (extra_env or {})
    log = open(tmp_path / f"{command}.log", "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        [sys.executable, "-m", module, command, *arguments], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def start_ingest(
    tmp_path: Path, *arguments: str, metrics_port: int = 0, extra_env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start ``pairflow ingest <arguments>`` storing into ``tmp_path/chdb``; output goes to ingest.log."""
    return start_pairflow(
        tmp_path, "ingest", "--dead-letter-dir", str(tmp_path / "dead"), *arguments,
        metrics_port=metrics_port, extra_env=extra_env,
    )


def stop_ingest(process: subprocess.Popen, timeout_s: float = 20.0) -> None:
    """Interrupt an ingest process as Ctrl-C would; kill it when it has not exited within ``timeout_s``."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def sigkill_mid_stream(
    process: subprocess.Popen, producer: threading.Thread, recovery_dir: Path, metrics_port: int, rows: int
) -> float:
    """Start ``producer``, SIGKILL ``process`` once 2 epochs are committed and ``rows`` trades stored; return those.

    The producer is joined before returning, so all input is on the broker for the restart.
    """
    producer.start()
    try:
        eventually(lambda: committed_epoch(recovery_dir) >= 2
                   and metric(metrics_port, "pairflow_ingest_messages_out_total", table="trades") >= rows, timeout=60)
        stored_at_kill = metric(metrics_port, "pairflow_ingest_messages_out_total", table="trades")
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        producer.join()
        if process.poll() is None:
            process.kill()
    return stored_at_kill


def committed_epoch(recovery_dir: Path) -> int:
    """Return the newest epoch every Bytewax recovery partition has committed (0 before any)."""
    epochs = []
    for part in recovery_dir.glob("part-*.sqlite3"):
        try:
            with sqlite3.connect(part) as db:
                epochs += [row[0] for row in db.execute("SELECT commit_epoch FROM commits")]
        except sqlite3.OperationalError:  # the flow has not created its tables yet
            return 0
    return min(epochs, default=0)


def stored_bars(store: Store, table: str) -> dict[str, tuple]:
    """Return the latest version of every bar of ``table`` as ``{id: (open, ..., sell_volume)}``."""
    return {row[0]: tuple(row[1:]) for row in store.query(f"SELECT {BAR_COLUMNS} FROM {table} FINAL")}


def assert_exactly_once(store: Store, tape_trades: list[Trade]) -> None:
    """Every trade once, bars equal to a batch computation over the unique trades."""
    total, unique = store.query("SELECT count(), uniqExact(id) FROM trades FINAL")[0]
    assert (total, unique) == (len(tape_trades), len(tape_trades))
    assert sorted(row[0] for row in store.query("SELECT id FROM trades FINAL")) == sorted(t.id for t in tape_trades)
    expected = batch_bars(tape_trades, (1_000, 60_000))
    got = stored_bars(store, "bars_1s") | stored_bars(store, "bars_1m")
    assert got.keys() == expected.keys()
    mismatched = [bar_id for bar_id in expected if got[bar_id] != expected[bar_id]]
    if mismatched:
        first = mismatched[0]
        raise AssertionError(f"{len(mismatched)} bars differ, e.g. {first}: {got[first]} != {expected[first]}")


def assert_published_bars_are_stored(store: Store, broker: TansuBroker) -> None:
    """Every bar also went out on md.bars: a next stage reading it back sees the stored bars."""
    stored = stored_bars(store, "bars_1s") | stored_bars(store, "bars_1m")
    published = {bar_id: _bar_columns(bar) for bar_id, bar in read_published_bars(broker).items()}
    assert published == stored


def _bar_columns(bar: Bar) -> tuple:
    return tuple(getattr(bar, column.strip()) for column in BAR_COLUMNS.split(",")[1:])


def published_bar_versions(broker: TansuBroker) -> dict[str, list[Bar]]:
    """Return every bar on md.bars, per coin in the order published (a coin's bars share one partition)."""
    bars = [msgspec.json.decode(message.value(), type=Bar) for message in consume_to_end(broker, "md.bars")]
    return {coin: [bar for bar in bars if bar.coin == coin] for coin in {bar.coin for bar in bars}}


def read_published_bars(broker: TansuBroker) -> dict[str, Bar]:
    """Read md.bars as a distributed strategy stage would; keep each bar's most complete version."""
    flow = Dataflow("read_bars")
    received: list[tuple[str, list[Bar]]] = []
    raw = op.input("md_bars", flow, market_data_source([broker.bootstrap_servers], ("md.bars",), tail=False))
    op.output("bars", bars_from_topic("decode_bars", raw), TestingSink(received))
    run_main(flow)
    latest: dict[str, Bar] = {}
    for _, bars in received:
        for bar in bars:
            if bar.id not in latest or bar.trades > latest[bar.id].trades:
                latest[bar.id] = bar
    return latest
