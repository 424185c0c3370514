-- Funding payments on our own positions (issue 14): PnL is computed from fills and these, never from balances.
CREATE TABLE IF NOT EXISTS funding_payments
(
    ts Int64,
    recv_ts Int64,
    id String,
    coin LowCardinality(String),
    usdc Float64,
    szi Float64,
    rate Float64,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (coin, ts, id);
