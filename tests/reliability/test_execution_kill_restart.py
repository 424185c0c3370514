"""``pairflow run execution`` SIGKILLed just after it sent orders, restarted: nothing sent twice, nothing lost.

Signals and marks flow on the tansu broker (the test publishes them, one spread flipping between
long, flat and short, marked at the venue's own book mids and time); the stage trades them on the
venue over HTTP/WS with a keystore key, as compose runs it (``--recovery-dir``). It is killed the
moment its cloid journal grows after a position is held -- its orders are in flight or just
answered -- and started again with the same directories. Then:

- no cloid reached the venue twice, and every order there is one the stage journaled;
- the first order after the restart on a coin held at the kill does not add to that position
  (the spread was taken over from the spread journal, not entered again);
- every fill and funding payment the venue recorded for the account is on ``pf.fills`` /
  ``pf.funding_payments`` (the restarted stage re-reads what the killed one had not published);
- no reconciliation alert on ``pf.alerts``: the books equal the exchange's and every fill came
  from a journaled order.

Recovery time: from the restart until the venue has an order of the restarted stage.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import msgspec
import pytest
from confluent_kafka import Consumer, TopicPartition

from pairflow.events import TOPIC_OF, Alert, Bar, Fill, FundingPayment, Signal, encode
from pairflow.hyperliquid.keystore import new_key
from pairflow.topics import TopicSpec, ensure_topics
from tests.broker import TansuBroker, consume_all
from tests.helpers import eventually, free_port
from tests.integration.ingest_support import produce, start_pairflow
from tests.reliability.support import record
from tests.reliability.test_trade_kill_restart import held, up

pytestmark = [pytest.mark.slow, pytest.mark.broker]

PASS = "kill-restart-execution"
LEGS = ("ETH", "SOL")
# Targets the spread cycles through, one signal per step: entries and exits in both directions.
TARGETS = (1.0, 0.0, -1.0, 0.0)
LEG_USD = 300.0


def info(url: str, body: dict) -> list | dict:
    return httpx.post(f"{url}/info", json=body, timeout=10).json()


class SignalFeed(threading.Thread):
    """Publish each leg's mark (the venue's book mid, at the venue's time) and a spread signal every step."""

    def __init__(self, broker: TansuBroker, url: str, step_s: float = 0.6) -> None:
        super().__init__(daemon=True)
        self.broker, self.url, self.step_s = broker, url, step_s
        self.stopped = threading.Event()
        self.signals = 0

    def run(self) -> None:
        while not self.stopped.is_set():
            books = [info(self.url, {"type": "l2Book", "coin": coin}) for coin in LEGS]
            ts = max(book["time"] for book in books)
            marks = {coin: (float(book["levels"][0][0]["px"]) + float(book["levels"][1][0]["px"])) / 2
                     for coin, book in zip(LEGS, books, strict=True)}
            target = TARGETS[self.signals % len(TARGETS)]
            self.signals += 1
            entry = Signal(ts=ts, id=f"ETH/SOL:{self.signals}", pair="ETH/SOL", hedge_ratio=1.0, spread=0.0,
                           zscore=-2.0 * target, target=target, reason="entry" if target else "exit", legs=LEGS,
                           hedge_ratios=(1.0,),
                           leg_targets=(target * LEG_USD / marks["ETH"], -target * LEG_USD / marks["SOL"]))
            produce(self.broker, [(TOPIC_OF[Bar], coin.encode(), encode(mark(coin, px, ts))) for coin, px in marks.items()]
                    + [(TOPIC_OF[Signal], b"ETH/SOL", encode(entry))])
            self.stopped.wait(self.step_s)


def mark(coin: str, px: float, ts: int) -> Bar:
    return Bar(ts=ts, id=f"{coin}@{ts}", coin=coin, interval="1s", open=px, high=px, low=px, close=px, volume=1.0,
               notional=px, vwap=px, trades=1, buy_volume=0.5, sell_volume=0.5)


def every_message(broker: TansuBroker, topic: str) -> list:
    """Return every message on ``topic`` now (up to its partitions' end offsets), none when it does not exist."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": "test-count"})
    try:
        listed = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        total = sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in listed)
    finally:
        consumer.close()
    return consume_all(broker, topic, total) if total else []


def journal_lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_sigkill_of_run_execution_mid_run_sends_no_order_twice_and_loses_no_fill(
    tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    account = new_key(tmp_path / "keys", PASS)
    keystore = tmp_path / "keys" / f"{account.lower()}.json"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    venue = start_pairflow(tmp_path, "venue", "serve", "--port", str(port), "--speed", "600",
                           "--fund", f"{account}=100000", "--ephemeral")
    ensure_topics(tansu_broker_fn.admin(), [TopicSpec(TOPIC_OF[kind], 2) for kind in (Bar, Signal)])
    execution = ("run", "execution", "--url", url, "--keystore", str(keystore), "--data-dir", str(tmp_path / "desk"),
                 "--recovery-dir", str(tmp_path / "recovery"), "--snapshot-interval", "0.5",
                 "--brokers", tansu_broker_fn.bootstrap_servers, "--dead-letter-dir", str(tmp_path / "dead"))
    secret = {"PAIRFLOW_SECRETS__KEYSTORE_PASSPHRASE": PASS}
    journal = tmp_path / "desk" / "execution" / f"cloids-{account.lower()}"
    (tmp_path / "recovery").mkdir()
    feed = SignalFeed(tansu_broker_fn, url)
    try:
        eventually(lambda: up(url), timeout=60, interval=0.2)
        first = start_pairflow(tmp_path, *execution, extra_env=secret)
        feed.start()
        try:
            eventually(lambda: held(url, account), timeout=120, interval=0.1)
            sent = len(journal_lines(journal))
            eventually(lambda: len(journal_lines(journal)) > sent, timeout=30, interval=0.005)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        held_at_kill = held(url, account)
        sent_before_kill = set(journal_lines(journal))
        restarted = time.monotonic()
        second = start_pairflow(tmp_path, *execution, extra_env=secret)
        try:
            eventually(lambda: {order["order"]["cloid"] for order in info(url, {"type": "historicalOrders",
                                                                                 "user": account})}
                       - sent_before_kill, timeout=120, interval=0.1)
            recovery_s = time.monotonic() - restarted
            signals_at_restart = feed.signals
            eventually(lambda: feed.signals >= signals_at_restart + len(TARGETS), timeout=30, interval=0.1)
            feed.stopped.set()
            feed.join()
            fills = {str(fill["tid"]) for fill in info(url, {"type": "userFills", "user": account})}
            payments = {f"{payment['time']}:{payment['delta']['coin']}"
                        for payment in info(url, {"type": "userFunding", "user": account, "startTime": 0})}
            # Wait until the stage has published what the venue recorded (a missing one times out as lost).
            published = lambda kind: {msgspec.json.decode(message.value(), type=kind).id  # noqa: E731
                                      for message in every_message(tansu_broker_fn, TOPIC_OF[kind])}
            try:
                eventually(lambda: fills <= published(Fill) and payments <= published(FundingPayment), timeout=30)
            except TimeoutError:
                pass  # counted as lost below
            lost = len(fills - published(Fill)) + len(payments - published(FundingPayment))
            mismatches = [alert.message for alert in map(lambda m: msgspec.json.decode(m.value(), type=Alert),
                                                         every_message(tansu_broker_fn, TOPIC_OF[Alert]))
                          if alert.message.startswith("reconciliation")]
        finally:
            second.terminate()
            assert second.wait(30) == 0, (tmp_path / "run.log").read_text()[-3_000:]
        orders = info(url, {"type": "historicalOrders", "user": account})
    finally:
        feed.stopped.set()
        venue.terminate()
        venue.wait(30)

    cloids = [order["order"]["cloid"] for order in orders]
    assert set(cloids) <= set(journal_lines(journal)), "the venue has an order the stage never journaled"
    record("SIGKILL run execution, restart", len(fills) + len(payments), lost, 0, recovery_s,
           orders_duplicated=len(cloids) - len(set(cloids)))
    # No reconciliation alert: the books equal the exchange's and every fill came from a journaled order.
    assert mismatches == []
    # The restart took the open spread over: its first order on a coin held at the kill closes (part of)
    # that position instead of adding to it.
    # By order id: at --speed 600 a backlog's orders can share the venue's millisecond.
    later = sorted((order["order"] for order in orders if order["order"]["cloid"] not in sent_before_kill),
                   key=lambda order: order["oid"])
    first_side: dict[str, str] = {}
    for order in later:
        first_side.setdefault(order["coin"], order["side"])
    assert held_at_kill, "nothing was held at the kill"
    for coin, side in first_side.items():
        if held_at_kill.get(coin):
            assert (side == "B") == (held_at_kill[coin] < 0), (coin, side, held_at_kill, later)
