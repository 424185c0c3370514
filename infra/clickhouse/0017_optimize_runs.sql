-- 0017: each `pairflow optimize` run's out-of-sample verdict, so the API and UI can show DSR and PBO beside
-- the backtests (its trials are in `trials` under the same run id). Storing the same run again replaces the row.
CREATE TABLE IF NOT EXISTS optimize_runs
(
    -- when it ran
    ts Int64,
    recv_ts Int64,
    id String,
    spreads Array(String),
    folds UInt16,
    trials UInt32,
    -- out of sample: the test windows chained (sharpe and dsr are NULL where undefined)
    oos_sharpe Nullable(Float64),
    oos_pnl Float64,
    dsr Nullable(Float64),
    -- probability of backtest overfitting over every trial of every fold (NULL with too few trials)
    pbo Nullable(Float64),
    params String
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY id;
