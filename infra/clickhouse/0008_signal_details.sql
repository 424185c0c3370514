-- 0008: a Signal carries its legs, per-leg targets, the features the rule and models saw, and the
-- versions of those models, so a decision can be explained and replayed from the table alone.
ALTER TABLE signals ADD COLUMN IF NOT EXISTS legs Array(LowCardinality(String)) AFTER reason;
ALTER TABLE signals ADD COLUMN IF NOT EXISTS hedge_ratios Array(Float64) AFTER legs;
ALTER TABLE signals ADD COLUMN IF NOT EXISTS leg_targets Array(Float64) AFTER hedge_ratios;
ALTER TABLE signals ADD COLUMN IF NOT EXISTS features Map(LowCardinality(String), Float64) AFTER leg_targets;
ALTER TABLE signals ADD COLUMN IF NOT EXISTS model_versions Map(LowCardinality(String), String) AFTER features;
