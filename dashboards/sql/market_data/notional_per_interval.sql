-- Traded notional (USD) per coin and interval, from pairflow's 1s bars.
SELECT $__timeInterval(time) AS t, coin, sum(notional) AS notional_usd
FROM bars_1s_v
WHERE $__timeFilter(time)
GROUP BY t, coin
ORDER BY t
