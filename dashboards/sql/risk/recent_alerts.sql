-- pairflow's own alerts (risk breaches, reconciliation, kill switch), newest first.
SELECT time, severity, source, coin, message
FROM alerts_v
WHERE $__timeFilter(time)
ORDER BY time DESC
LIMIT 100
