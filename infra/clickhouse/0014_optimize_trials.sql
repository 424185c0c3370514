-- Every Optuna trial of `pairflow optimize`: the run it belongs to, its fold and training window,
-- the parameters tried (JSON) and what the training backtest gave. One row per (run, fold, trial).
CREATE TABLE IF NOT EXISTS trials
(
    run_id String,
    fold UInt16,
    trial UInt32,
    id String,
    ts Int64,
    train_start_ts Int64,
    train_end_ts Int64,
    params String,
    -- the training backtest's figures (sharpe is NULL where undefined: no trade or no variance)
    sharpe Nullable(Float64),
    pnl Float64,
    fees Float64,
    trades UInt32,
    max_drawdown Float64
)
ENGINE = ReplacingMergeTree(ts)
ORDER BY (run_id, fold, trial);
