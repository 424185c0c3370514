-- 0002: bars derived from trades by pairflow (events.Bar). ts is the bar open time; a bar
-- may be re-emitted when late trades arrive, so the latest received version wins.

CREATE TABLE IF NOT EXISTS bars_1s
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    interval LowCardinality(String),
    open Float64,
    high Float64,
    low Float64,
    close Float64,
    volume Float64,
    notional Float64,
    vwap Float64,
    trades UInt64,
    buy_volume Float64,
    sell_volume Float64,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(ts, 'UTC'))
ORDER BY (coin, ts);

CREATE TABLE IF NOT EXISTS bars_1m
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    interval LowCardinality(String),
    open Float64,
    high Float64,
    low Float64,
    close Float64,
    volume Float64,
    notional Float64,
    vwap Float64,
    trades UInt64,
    buy_volume Float64,
    sell_volume Float64,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(ts, 'UTC'))
ORDER BY (coin, ts);
