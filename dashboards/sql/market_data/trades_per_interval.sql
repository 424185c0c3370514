-- Trades stored per coin and interval (deduplicated view).
SELECT $__timeInterval(time) AS t, coin, count() AS trades
FROM trades_v
WHERE $__timeFilter(time)
GROUP BY t, coin
ORDER BY t
