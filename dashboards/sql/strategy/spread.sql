-- Latest spread value of each pair per interval.
SELECT $__timeInterval(time) AS t, pair, argMax(spread, ts) AS last_spread
FROM signals_v
WHERE $__timeFilter(time)
GROUP BY t, pair
ORDER BY t
