-- 0016: strategy parameter changes published on pf.params (the API audits them in control_audit too).
CREATE TABLE IF NOT EXISTS strategy_params
(
    ts Int64,
    recv_ts Int64,
    id String,
    entry_z Nullable(Float64),
    exit_z Nullable(Float64),
    stop_z Nullable(Float64),
    notional_usd Nullable(Float64)
)
ENGINE = ReplacingMergeTree(recv_ts)
ORDER BY (ts, id);
