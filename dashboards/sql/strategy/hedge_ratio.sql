-- Kalman hedge ratio of each pair (first hedged leg) per interval.
SELECT $__timeInterval(time) AS t, pair, argMax(hedge_ratio, ts) AS last_hedge_ratio
FROM signals_v
WHERE $__timeFilter(time)
GROUP BY t, pair
ORDER BY t
