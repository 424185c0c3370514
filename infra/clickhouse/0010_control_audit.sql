-- Every operator control and parameter change made through the API: who (token id), what, when, and the outcome.
CREATE TABLE IF NOT EXISTS control_audit
(
    ts Int64,
    id String,
    action LowCardinality(String),
    actor String,
    detail String,
    outcome LowCardinality(String),
    time DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(ts, 'UTC')
)
ENGINE = MergeTree
ORDER BY (ts, id);
