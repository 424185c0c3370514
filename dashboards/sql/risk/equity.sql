-- Portfolio equity (USD) per interval.
SELECT $__timeInterval(time) AS t, argMax(equity, ts) AS equity_usd
FROM pnl_v
WHERE $__timeFilter(time) AND scope = 'portfolio'
GROUP BY t
ORDER BY t
