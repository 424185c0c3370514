-- 0015: each backtest run's equity curve (at most a few thousand points), for equity and drawdown charts
-- and for comparing runs without replaying them. Re-storing a run replaces its points (same run id and time).
CREATE TABLE IF NOT EXISTS backtest_equity
(
    run_id String,
    ts Int64,
    equity Float64,
    recv_ts Int64
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (run_id, ts);
