-- 0007: a pair_stats row is one candidate spread of one scan: the scan's id and parameters, the
-- legs and weights of the spread (pairs and Johansen baskets), every statistic the scan computed,
-- and whether it was accepted or why not. Existing columns keep their meaning; eg_pvalue, qvalue
-- and hedge_ratio are those of the reported direction (coin_a dependent on coin_b). New columns
-- follow the event's field order (pairflow.events.PairStats); the view pair_stats_v is derived
-- by pairflow.storage.views after the migrations.
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS scan_id String;
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS kind LowCardinality(String);
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS coins Array(LowCardinality(String));
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS weights Array(Float64);
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS intercept Float64;
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS interval LowCardinality(String);
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS observations Int64;
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS eg_statistic Nullable(Float64);
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS eg_statistic_reverse Nullable(Float64);
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS eg_pvalue_reverse Nullable(Float64);
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS johansen_trace_critical Nullable(Float64);
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS johansen_max_eigen Nullable(Float64);
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS johansen_max_eigen_critical Nullable(Float64);
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS johansen_rank Nullable(Int64);
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS crossings Nullable(Int64);
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS qvalue_reverse Nullable(Float64);
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS accepted Bool;
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS reason String;
ALTER TABLE pair_stats ADD COLUMN IF NOT EXISTS parameters String;

