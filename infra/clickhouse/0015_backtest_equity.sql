-- 0015: each backtest run's equity curve (at most a few thousand points), for equity and drawdown charts
-- and for comparing runs without replaying them.
CREATE TABLE IF NOT EXISTS backtest_equity
(
    run_id String,
    ts Int64,
    recv_ts Int64,
    equity Float64,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (run_id, ts);
