-- Coins the exchange delisted while they were collected (md.delistings): the strategy flattens and stops
-- every spread with such a leg, and the rows say when it learnt of it.
CREATE TABLE IF NOT EXISTS delistings
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (coin, id);
