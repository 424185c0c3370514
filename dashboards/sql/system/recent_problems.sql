-- The latest warnings and errors from every process.
SELECT time, level, logger, message, fields
FROM logs
WHERE $__timeFilter(time) AND level IN ('warning', 'error', 'critical')
ORDER BY time DESC
LIMIT 100
