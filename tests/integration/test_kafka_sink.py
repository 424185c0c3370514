"""KafkaSink against a real tansu broker: exactly-once on a healthy broker, no loss across a restart."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Producer

from pairflow.config import BrokerSettings
from pairflow.events import Trade, decode, encode
from pairflow.topics import all_topics
from sinks.kafka import KafkaSink
from tests.broker import TansuBroker, consume_all

pytestmark = pytest.mark.broker


def _trade(i: int, coin: str) -> Trade:
    return Trade(id=f"{coin}:{i}", coin=coin, ts=1_790_000_000_000 + i, recv_ts=1_790_000_000_005 + i,
                 px=100.0 + i % 7, sz=0.5, side="B" if i % 2 else "A", tid=i, hash="0x")


def test_each_event_arrives_once_keyed_by_coin_in_configured_partitions(tansu_broker: TansuBroker) -> None:
    settings = BrokerSettings(bootstrap_servers=tansu_broker.bootstrap_servers, partitions=4)
    trades = [_trade(i, coin) for i in range(600) for coin in ("BTC", "ETH")]
    with KafkaSink(settings) as sink:
        for trade in trades:
            sink.emit("md.trades", trade.coin, trade)
        assert sink.flush(20) == 0
        assert sink.stats.produced == len(trades)
        assert sink.stats.delivery_failures == 0

    topics = tansu_broker.admin().list_topics(timeout=5).topics
    assert set(all_topics()) <= set(topics)
    assert len(topics["md.trades"].partitions) == 4
    messages = consume_all(tansu_broker, "md.trades", len(trades))
    assert len(messages) == len(trades)
    decoded = {}
    for message in messages:
        event = decode(message.value(), Trade)
        assert message.key().decode() == event.coin
        decoded[event.id] = event
    assert decoded == {trade.id: trade for trade in trades}
    partitions_of = {}
    for message in messages:
        partitions_of.setdefault(message.key(), set()).add(message.partition())
    assert all(len(parts) == 1 for parts in partitions_of.values())


def test_broker_restart_while_producing_loses_nothing(tansu_broker_fn: TansuBroker) -> None:
    broker = tansu_broker_fn
    settings = BrokerSettings(bootstrap_servers=broker.bootstrap_servers, partitions=2,
                              max_buffered_messages=300, delivery_timeout_ms=1500)
    sink = KafkaSink(settings, topics=("md.trades",))
    before = [_trade(i, "BTC") for i in range(500)]
    for trade in before:
        sink.emit("md.trades", trade.coin, trade)
    assert sink.flush(20) == 0
    assert {decode(m.value(), Trade).id for m in consume_all(broker, "md.trades", len(before))} == {
        t.id for t in before
    }

    broker.stop()
    restart = threading.Timer(2.0, broker.start)
    restart.start()
    during = [_trade(i, "ETH") for i in range(500, 2500)]
    for trade in during:
        sink.emit("md.trades", trade.coin, trade)
    restart.join()
    assert sink.flush(60) == 0
    sink.close()

    assert sink.stats.backpressure_waits >= 1
    assert sink.stats.resets >= 1
    ids = [decode(m.value(), Trade).id for m in consume_all(broker, "md.trades", len(during))]
    assert len(ids) == len(during)
    assert set(ids) == {t.id for t in during}


def test_closing_while_the_broker_is_down_reports_every_undelivered_message(tansu_broker_fn: TansuBroker) -> None:
    settings = BrokerSettings(bootstrap_servers=tansu_broker_fn.bootstrap_servers, delivery_timeout_ms=500)
    sink = KafkaSink(settings, topics=("md.trades",))
    tansu_broker_fn.stop()
    for i in range(10):
        sink.emit("md.trades", "BTC", _trade(i, "BTC"))
    assert sink.close(timeout_s=1.5) == 10
    assert sink.pending == 10 and sink.stats.produced == 0
    assert sink.stats.delivery_failures >= 10 and sink.stats.resets >= 1
    with pytest.raises(RuntimeError, match="closed"):
        sink.emit("md.trades", "BTC", _trade(11, "BTC"))


def _trade_value(trade_id: str) -> bytes:
    return encode(Trade(id=trade_id, coin="BTC", ts=1_790_000_000_000, px=100.0, sz=1.0, side="B", tid=0))


def _delivered_ids(broker: TansuBroker, expected: int) -> list[str]:
    return [decode(m.value(), Trade).id for m in consume_all(broker, "md.trades", expected)]


def test_a_broker_that_lost_the_producer_id_gets_a_new_producer_without_waiting_out_the_delivery_timeout(
    tansu_broker_fn: TansuBroker,
) -> None:
    # Memory storage: the restarted broker knows neither the topic nor this producer's id, and librdkafka
    # alone would retry that unknown id until the 30 s delivery timeout (the md.bars crash of issue 18).
    settings = BrokerSettings(bootstrap_servers=tansu_broker_fn.bootstrap_servers, partitions=1,
                              delivery_timeout_ms=30_000)
    sink = KafkaSink(settings, topics=("md.trades",))
    for i in range(200):
        sink.emit("md.trades", "BTC", _trade(i, "BTC"))
    assert sink.flush(20) == 0
    tansu_broker_fn.restart()
    after = [_trade(i, "BTC") for i in range(200, 400)]
    for trade in after:
        sink.emit("md.trades", trade.coin, trade)
    assert sink.flush(10) == 0, "still waiting on the forgotten producer id"
    sink.close()
    assert sink.stats.resets == 1
    assert sorted(_delivered_ids(tansu_broker_fn, len(after))) == sorted(t.id for t in after)


def test_an_out_of_order_sequence_after_a_broker_restart_rebuilds_the_producer_instead_of_raising(
    tansu_broker_fn: TansuBroker,
) -> None:
    settings = BrokerSettings(bootstrap_servers=tansu_broker_fn.bootstrap_servers, partitions=1)
    sink = KafkaSink(settings, topics=("md.trades",))
    for i in range(100):
        sink.emit("md.trades", "BTC", _trade(i, "BTC"))
    assert sink.flush(20) == 0
    tansu_broker_fn.stop()
    queued = _trade(100, "BTC")
    sink.emit("md.trades", "BTC", queued)
    tansu_broker_fn.start()
    # The fresh broker hands this sink's old producer id to another producer; the old producer's next
    # request then carries a sequence that broker never saw: a fatal error, after which librdkafka
    # refuses every call on that producer.
    other = Producer({"bootstrap.servers": tansu_broker_fn.bootstrap_servers, "enable.idempotence": True})
    other.produce("md.trades", _trade_value("other"), b"BTC")
    assert other.flush(10) == 0
    time.sleep(3)  # the old producer reconnects on its own thread and is refused while the sink is idle
    after = [_trade(i, "BTC") for i in range(101, 300)]
    for trade in after:
        sink.emit("md.trades", trade.coin, trade)
    assert sink.flush(20) == 0
    sink.close()
    assert sink.stats.resets >= 1
    delivered = _delivered_ids(tansu_broker_fn, len(after) + 2)
    assert sorted(delivered) == sorted([queued.id, "other", *(t.id for t in after)])
