-- 0001: market data. Column names equal the field names of pairflow/events.py.
-- Times are Int64 milliseconds since the epoch (ts = exchange time, recv_ts = local receive
-- time); the ALIAS column `time` exposes ts as DateTime64 for dashboards.
-- Tables fed at-least-once (duplicates can arrive after a reconnect, a backfill or a replay)
-- are ReplacingMergeTree keyed by the natural key, versioned by recv_ts; read them with FINAL
-- (Store.select and Store.count add it) so duplicates never show. Book snapshots and BBO are
-- keyed too: the ingest flow rewrites them after a crash-resume.

CREATE TABLE IF NOT EXISTS trades
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    px Float64,
    sz Float64,
    side LowCardinality(String),
    tid UInt64,
    hash String,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(ts, 'UTC'))
ORDER BY (coin, ts, id);

CREATE TABLE IF NOT EXISTS l2_snapshots
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    bid_px Array(Float64),
    bid_sz Array(Float64),
    ask_px Array(Float64),
    ask_sz Array(Float64),
    mid Nullable(Float64),
    spread_bps Nullable(Float64),
    imbalance Nullable(Float64),
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(ts, 'UTC'))
ORDER BY (coin, ts, id);

CREATE TABLE IF NOT EXISTS bbo
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    bid_px Nullable(Float64),
    bid_sz Nullable(Float64),
    ask_px Nullable(Float64),
    ask_sz Nullable(Float64),
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(ts, 'UTC'))
ORDER BY (coin, ts, id);

-- An open candle is re-sent as it grows; the latest received version wins.
CREATE TABLE IF NOT EXISTS candles
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    interval LowCardinality(String),
    close_ts Int64,
    open Float64,
    high Float64,
    low Float64,
    close Float64,
    volume Float64,
    trades UInt64,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(ts, 'UTC'))
ORDER BY (coin, interval, ts);

CREATE TABLE IF NOT EXISTS funding
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    rate Float64,
    premium Nullable(Float64),
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(ts, 'UTC'))
ORDER BY (coin, ts);

CREATE TABLE IF NOT EXISTS asset_ctx
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    mark_px Float64,
    oracle_px Float64,
    mid_px Nullable(Float64),
    open_interest Float64,
    funding Float64,
    premium Nullable(Float64),
    day_ntl_vlm Float64,
    prev_day_px Float64,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(ts, 'UTC'))
ORDER BY (coin, ts, id);

CREATE TABLE IF NOT EXISTS fees
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    taker Float64,
    maker Float64,
    spot_taker Float64,
    spot_maker Float64,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (coin, ts, id);

CREATE TABLE IF NOT EXISTS gaps
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    stream LowCardinality(String),
    start_ts Int64,
    end_ts Int64,
    filled Bool,
    reason String,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (coin, stream, start_ts, id);
