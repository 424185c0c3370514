-- Target spread position (signed fraction of the configured notional) per pair.
SELECT $__timeInterval(time) AS t, pair, argMax(target, ts) AS last_target
FROM signals_v
WHERE $__timeFilter(time)
GROUP BY t, pair
ORDER BY t
