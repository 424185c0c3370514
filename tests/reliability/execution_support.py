"""The execution stage's reliability scenarios: a venue, a signal feed on the broker, and what reached the topics.

Each scenario runs ``pairflow run execution`` as a real process against the tansu broker and a
``pairflow venue serve`` process at 600x (an hour of funding every 6 s), feeding it one spread
that flips between long, flat and short at the venue's own book mids and time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
from confluent_kafka import Consumer, TopicPartition

from pairflow.events import TOPIC_OF, Bar, Fill, FundingPayment, Signal, encode
from pairflow.topics import TopicSpec, ensure_topics
from tests.broker import TansuBroker, consume_all
from tests.helpers import eventually, free_port, new_keystore
from tests.integration.ingest_support import produce, start_pairflow
from tests.reliability.test_trade_kill_restart import held, up

__all__ = ["LEGS", "TARGETS", "SignalFeed", "Trading", "every_message", "info", "trading"]

LEGS = ("ETH", "SOL")
# Targets the spread cycles through, one signal per step: entries and exits in both directions.
TARGETS = (1.0, 0.0, -1.0, 0.0)
LEG_USD = 300.0


def info(url: str, body: dict) -> list | dict:
    return httpx.post(f"{url}/info", json=body, timeout=10).json()


class SignalFeed(threading.Thread):
    """Publish each leg's mark (the venue's book mid, at the venue's time) and a spread signal every step.

    While ``quiet`` is set, or once ``limit`` signals went out, only the marks go out: no newer change
    supersedes one a restart is finishing.
    """

    def __init__(self, broker: TansuBroker, url: str, step_s: float = 0.6, limit: int | None = None) -> None:
        super().__init__(daemon=True)
        self.broker, self.url, self.step_s, self.limit = broker, url, step_s, limit
        self.stopped = threading.Event()
        self.quiet = threading.Event()
        self.signals = 0

    def run(self) -> None:
        while not self.stopped.is_set():
            books = [info(self.url, {"type": "l2Book", "coin": coin}) for coin in LEGS]
            ts = max(book["time"] for book in books)
            marks = {coin: (float(book["levels"][0][0]["px"]) + float(book["levels"][1][0]["px"])) / 2
                     for coin, book in zip(LEGS, books, strict=True)}
            marks_only = [(TOPIC_OF[Bar], coin.encode(), encode(mark(coin, px, ts))) for coin, px in marks.items()]
            if self.quiet.is_set() or (self.limit is not None and self.signals >= self.limit):
                produce(self.broker, marks_only)
                self.stopped.wait(self.step_s)
                continue
            target = TARGETS[self.signals % len(TARGETS)]
            self.signals += 1
            entry = Signal(ts=ts, id=f"ETH/SOL:{self.signals}", pair="ETH/SOL", hedge_ratio=1.0, spread=0.0,
                           zscore=-2.0 * target, target=target, reason="entry" if target else "exit", legs=LEGS,
                           hedge_ratios=(1.0,),
                           leg_targets=(target * LEG_USD / marks["ETH"], -target * LEG_USD / marks["SOL"]))
            produce(self.broker, [*marks_only, (TOPIC_OF[Signal], b"ETH/SOL", encode(entry))])
            self.stopped.wait(self.step_s)

    def wait_for(self, more: int) -> None:
        """Return once ``more`` further signals went out."""
        start = self.signals
        eventually(lambda: self.signals >= start + more, timeout=30, interval=0.1)


def mark(coin: str, px: float, ts: int) -> Bar:
    return Bar(ts=ts, id=f"{coin}@{ts}", coin=coin, interval="1s", open=px, high=px, low=px, close=px, volume=1.0,
               notional=px, vwap=px, trades=1, buy_volume=0.5, sell_volume=0.5)


def every_message(broker: TansuBroker, topic: str) -> list:
    """Return every message on ``topic`` now (up to its partitions' end offsets)."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": "test-count"})
    try:
        listed = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        total = sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in listed)
    finally:
        consumer.close()
    return consume_all(broker, topic, total) if total else []


@dataclass
class Trading:
    """A running venue and signal feed for one account, and the stage's directories and command line."""

    broker: TansuBroker
    tmp_path: Path
    url: str
    account: str
    keystore: Path
    passphrase: str
    feed: SignalFeed

    @property
    def journal(self) -> Path:
        return self.tmp_path / "desk" / "execution" / f"cloids-{self.account.lower()}"

    def journaled(self) -> list[str]:
        """Return the cloids in the stage's journal (each line is a cloid and its order's expiry)."""
        lines = self.journal.read_text().splitlines() if self.journal.exists() else []
        return [line.split()[0] for line in lines if line]

    def start_execution(self, *options: str, url: str | None = None, env: dict[str, str] | None = None):
        """Start ``pairflow run execution`` for the account, trading on ``url`` (default: the venue's)."""
        return start_pairflow(
            self.tmp_path, "run", "execution", "--url", url or self.url, "--keystore", str(self.keystore),
            "--data-dir", str(self.tmp_path / "desk"), "--brokers", self.broker.bootstrap_servers,
            "--dead-letter-dir", str(self.tmp_path / "dead"), *options,
            extra_env={"PAIRFLOW_SECRETS__KEYSTORE_PASSPHRASE": self.passphrase, **(env or {})})

    def held(self) -> dict[str, float]:
        return held(self.url, self.account)

    def orders(self) -> list[dict]:
        return info(self.url, {"type": "historicalOrders", "user": self.account})

    def orders_checked(self) -> tuple[list[dict], int]:
        """Return the account's orders on the venue and how many repeat a cloid; each must have been journaled."""
        orders = self.orders()
        cloids = [order["order"]["cloid"] for order in orders]
        assert set(cloids) <= set(self.journaled()), "the venue has an order the stage never journaled"
        return orders, len(cloids) - len(set(cloids))

    def new_order(self, before: set[str]) -> None:
        """Return once the venue has an order whose cloid is not in ``before``."""
        eventually(lambda: {order["order"]["cloid"] for order in self.orders()} - before, timeout=120, interval=0.1)

    def order_going_out(self) -> None:
        """Return the moment the stage journals a cloid, once a position is held: that order is in flight."""
        eventually(self.held, timeout=120, interval=0.1)
        sent = len(self.journaled())
        eventually(lambda: len(self.journaled()) > sent, timeout=30, interval=0.005)

    def settled(self) -> tuple[int, int]:
        """Stop the feed; return (fills and funding payments the venue recorded, how many never reached the topics)."""
        self.feed.stopped.set()
        self.feed.join()
        fills = {str(fill["tid"]) for fill in info(self.url, {"type": "userFills", "user": self.account})}
        payments = {f"{payment['time']}:{payment['delta']['coin']}"
                    for payment in info(self.url, {"type": "userFunding", "user": self.account, "startTime": 0})}
        published = lambda kind: {msgspec.json.decode(message.value(), type=kind).id  # noqa: E731
                                  for message in every_message(self.broker, TOPIC_OF[kind])}
        try:
            eventually(lambda: fills <= published(Fill) and payments <= published(FundingPayment), timeout=30)
        except TimeoutError:
            pass  # counted as lost
        return len(fills) + len(payments), len(fills - published(Fill)) + len(payments - published(FundingPayment))


@contextmanager
def trading(broker: TansuBroker, tmp_path: Path, passphrase: str, signals: int | None = None,
            speed: float = 600) -> Iterator[Trading]:
    """Serve a venue (market at ``speed``) funding a new keystore's account, create the input topics and start
    the signal feed (publishing at most ``signals`` signals when given)."""
    keystore = new_keystore(tmp_path / "keys", passphrase)
    account = "0x" + keystore.stem[2:]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    venue = start_pairflow(tmp_path, "venue", "serve", "--port", str(port), "--speed", str(speed),
                           "--fund", f"{account}=100000", "--ephemeral")
    ensure_topics(broker.admin(), [TopicSpec(TOPIC_OF[kind], 2) for kind in (Bar, Signal)])
    feed = SignalFeed(broker, url, limit=signals)
    try:
        eventually(lambda: up(url), timeout=60, interval=0.2)
        feed.start()
        yield Trading(broker, tmp_path, url, account, keystore, passphrase, feed)
    finally:
        feed.stopped.set()
        if feed.is_alive():
            feed.join(30)  # before the broker goes: a send cut short fails in the thread
        venue.terminate()
        venue.wait(30)
