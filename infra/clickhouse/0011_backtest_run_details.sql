-- Backtest runs record what makes them reproducible and comparable: the data they read, how orders
-- filled, every figure, and a hash of their trades (same inputs and config must give the same hash).
ALTER TABLE backtest_runs ADD COLUMN IF NOT EXISTS data String DEFAULT '';
ALTER TABLE backtest_runs ADD COLUMN IF NOT EXISTS fill_mode LowCardinality(String) DEFAULT 'close';
ALTER TABLE backtest_runs ADD COLUMN IF NOT EXISTS trades_hash String DEFAULT '';
ALTER TABLE backtest_runs ADD COLUMN IF NOT EXISTS metrics String DEFAULT '{}';
ALTER TABLE backtest_runs ADD COLUMN IF NOT EXISTS per_spread String DEFAULT '{}';
ALTER TABLE backtest_runs ADD COLUMN IF NOT EXISTS data_problems Array(String) DEFAULT [];

-- A row is a fill (kind 'fill') or a funding payment on an open leg (kind 'funding').
ALTER TABLE backtest_trades ADD COLUMN IF NOT EXISTS kind LowCardinality(String) DEFAULT 'fill';
ALTER TABLE backtest_trades ADD COLUMN IF NOT EXISTS slippage Float64 DEFAULT 0;
