-- 0003: strategy, execution and risk. Every table is written at-least-once and is a
-- ReplacingMergeTree keyed by the event id (or natural key), so a replay never double-counts.

CREATE TABLE IF NOT EXISTS pair_stats
(
    ts Int64,
    recv_ts Int64,
    id String,
    pair LowCardinality(String),
    coin_a LowCardinality(String),
    coin_b LowCardinality(String),
    window_start Int64,
    window_end Int64,
    correlation Float64,
    hedge_ratio Float64,
    eg_pvalue Float64,
    johansen_trace Nullable(Float64),
    half_life Nullable(Float64),
    hurst Nullable(Float64),
    qvalue Nullable(Float64),
    cluster Nullable(Int64),
    rank Nullable(Int64),
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (pair, id);

CREATE TABLE IF NOT EXISTS signals
(
    ts Int64,
    recv_ts Int64,
    id String,
    pair LowCardinality(String),
    hedge_ratio Float64,
    spread Float64,
    zscore Float64,
    target Float64,
    reason String,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(ts, 'UTC'))
ORDER BY (pair, id);

-- One row per order status change; the id names the (order, status) record.
CREATE TABLE IF NOT EXISTS orders
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    cloid String,
    oid Nullable(Int64),
    is_buy Bool,
    sz Float64,
    limit_px Float64,
    status LowCardinality(String),
    filled_sz Float64,
    avg_px Nullable(Float64),
    reason String,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (coin, id);

CREATE TABLE IF NOT EXISTS fills
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    oid Int64,
    cloid String,
    px Float64,
    sz Float64,
    side LowCardinality(String),
    fee Float64,
    closed_pnl Float64,
    crossed Bool,
    start_position Float64,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (coin, id);

CREATE TABLE IF NOT EXISTS positions
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    szi Float64,
    entry_px Float64,
    mark_px Float64,
    unrealized_pnl Float64,
    margin_used Float64,
    leverage Float64,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (coin, ts, id);

-- Profit and loss per scope ('portfolio', a pair or a coin) at a point in time.
CREATE TABLE IF NOT EXISTS pnl
(
    ts Int64,
    recv_ts Int64,
    id String,
    scope LowCardinality(String),
    realized_pnl Float64,
    unrealized_pnl Float64,
    fees Float64,
    funding Float64,
    equity Float64,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (scope, ts, id);

CREATE TABLE IF NOT EXISTS risk_metrics
(
    ts Int64,
    recv_ts Int64,
    id String,
    metric LowCardinality(String),
    value Float64,
    confidence Nullable(Float64),
    horizon LowCardinality(String),
    scope LowCardinality(String),
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (scope, metric, ts, id);

CREATE TABLE IF NOT EXISTS alerts
(
    ts Int64,
    recv_ts Int64,
    id String,
    severity LowCardinality(String),
    source LowCardinality(String),
    message String,
    coin LowCardinality(String),
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (ts, id);
