-- Latest z-score of each spread per interval.
SELECT $__timeInterval(time) AS t, pair, argMax(zscore, ts) AS last_zscore
FROM signals_v
WHERE $__timeFilter(time)
GROUP BY t, pair
ORDER BY t
