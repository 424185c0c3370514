-- The latest decisions, with the reason the rule gave.
SELECT time, pair, zscore, spread, hedge_ratio, target, reason
FROM signals_v
WHERE $__timeFilter(time)
ORDER BY time DESC
LIMIT 100
