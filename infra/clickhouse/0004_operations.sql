-- 0004: operations: structured logs (the ELK role, queried with SQL) and backtest results.

CREATE TABLE IF NOT EXISTS logs
(
    ts Int64,
    recv_ts Int64,
    id String,
    level LowCardinality(String),
    logger LowCardinality(String),
    message String,
    fields String,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(ts, 'UTC'))
ORDER BY (ts, logger);

-- One row per backtest run; a run is re-written with its final status and figures.
CREATE TABLE IF NOT EXISTS backtest_runs
(
    ts Int64,
    recv_ts Int64,
    id String,
    name String,
    strategy LowCardinality(String),
    status LowCardinality(String),
    start_ts Int64,
    end_ts Int64,
    params String,
    pairs Array(String),
    trades UInt64,
    total_pnl Float64,
    fees Float64,
    funding Float64,
    sharpe Nullable(Float64),
    sortino Nullable(Float64),
    max_drawdown Nullable(Float64),
    commit String,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY id;

CREATE TABLE IF NOT EXISTS backtest_trades
(
    ts Int64,
    recv_ts Int64,
    id String,
    run_id String,
    pair LowCardinality(String),
    coin LowCardinality(String),
    side LowCardinality(String),
    px Float64,
    sz Float64,
    fee Float64,
    funding Float64,
    pnl Float64,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (run_id, ts, id);
