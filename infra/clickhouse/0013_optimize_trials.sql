-- Every Optuna trial of `pairflow optimize`: the run it belongs to, its fold and training window,
-- the parameters tried (JSON) and what the training backtest gave. One row per (run, fold, trial).
CREATE TABLE IF NOT EXISTS trials
(
    ts Int64,
    id String,
    run_id String,
    fold UInt16,
    trial UInt32,
    train_start_ts Int64,
    train_end_ts Int64,
    params String,
    sharpe Nullable(Float64),
    pnl Float64,
    fees Float64,
    trades UInt32,
    max_drawdown Float64,
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = ReplacingMergeTree(ts)
ORDER BY (run_id, fold, trial);
