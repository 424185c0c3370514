"""Where a restarted collector picks up: the last trades per coin that an earlier run delivered.

The collector treats the span from there to the first exchange time it
receives as a hole (`sources.collector.Collector`, ``resume``): the trade gap
is settled by the venue's replay, candles and funding are fetched again, and
nothing missed goes unrecorded. What "delivered" means depends on the mode:
rows in the store, records in the embedded journal (`sources.journal`), or
messages acknowledged by the broker on ``md.trades``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import msgspec
from confluent_kafka import Consumer, KafkaException, TopicPartition

from pairflow.events import TOPIC_OF, Trade, decoder
from pairflow.storage import Store
from sources.gaps import LastTrade, newest

__all__ = ["last_published_trades", "last_stored_trades", "stored_trades_since"]

_TAIL_MESSAGES = 2_000
_POLL_S = 5.0
# librdkafka's own connection errors go through logging like the broker sink's, not raw to stderr.
_LIBRDKAFKA_LOG = logging.getLogger("librdkafka")


def last_stored_trades(store: Store, coins: Iterable[str]) -> dict[str, LastTrade]:
    """Return, per coin, the trades stored at its newest stored trade time."""
    rows = store.query(
        "SELECT coin, ts, groupArray(id) FROM trades FINAL"
        " WHERE (coin, ts) IN (SELECT coin, max(ts) FROM trades WHERE coin IN {coins:Array(String)} GROUP BY coin)"
        " GROUP BY coin, ts",
        {"coins": list(coins)},
    )
    return {coin: LastTrade(int(ts), frozenset(ids)) for coin, ts, ids in rows}


def stored_trades_since(store: Store, since: Mapping[str, int]) -> dict[str, list[Trade]]:
    """Return, per coin, its stored trades from ``since[coin]`` on, in tape order; coins with none are left out.

    What a restarted ingest flow folds into its bars before the first trade it
    receives (`flows.ingest.IngestOptions.open_since` gives ``since``), so the
    bars open at the kill hold the trades the killed process had stored.
    """
    found: dict[str, list[Trade]] = {}
    for coin, start in since.items():
        rows = store.query(
            "SELECT ts, recv_ts, id, px, sz, side, tid, hash FROM trades FINAL"
            " WHERE coin = {coin:String} AND ts >= {start:Int64} ORDER BY ts, tid, id",
            {"coin": coin, "start": start},
        )
        if rows:
            found[coin] = [Trade(ts=ts, recv_ts=recv_ts, id=trade_id, coin=coin, px=px, sz=sz, side=side, tid=tid,
                                 hash=trade_hash) for ts, recv_ts, trade_id, px, sz, side, tid, trade_hash in rows]
    return found


def last_published_trades(bootstrap_servers: str, coins: Iterable[str]) -> dict[str, LastTrade]:
    """Return, per coin, the newest trades the broker holds on ``md.trades``.

    Reads the last messages of every partition (coins are keys, so each coin
    lives in one partition); a coin whose last trade lies further back than
    that is treated as never delivered. A missing topic means nothing was.
    """
    wanted = set(coins)
    topic = TOPIC_OF[Trade]
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "pairflow-collector-resume",
                         "enable.auto.commit": False, "enable.partition.eof": True, "logger": _LIBRDKAFKA_LOG})
    try:
        metadata = consumer.list_topics(topic, timeout=_POLL_S).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return {}
        assignments, reading = [], set()
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=_POLL_S)
            if high > low:
                assignments.append(TopicPartition(topic, partition, max(low, high - _TAIL_MESSAGES)))
                reading.add(partition)
        consumer.assign(assignments)
        trades = decoder(Trade)
        found: dict[str, LastTrade] = {}
        while reading:
            message = consumer.poll(_POLL_S)
            if message is None:
                raise KafkaException(f"no answer from the broker while reading the tail of {topic}")
            if message.error() is not None:  # the end of the partition, or it cannot be read
                reading.discard(message.partition())
                continue
            try:
                trade = trades.decode(message.value())
            except msgspec.DecodeError:  # the ingest flow dead-letters it; it delivered no trade
                continue
            if trade.coin in wanted:
                found = newest(found, {trade.coin: LastTrade(trade.ts, frozenset((trade.id,)))})
        return found
    finally:
        consumer.close()
