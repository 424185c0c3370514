-- Log records per interval by level (the logs table is append-only, no view needed).
SELECT $__timeInterval(time) AS t, level, count() AS records
FROM logs
WHERE $__timeFilter(time)
GROUP BY t, level
ORDER BY t
