-- Average quoted spread in basis points per coin, from the sampled book snapshots.
SELECT $__timeInterval(time) AS t, coin, avg(spread_bps) AS avg_spread_bps
FROM l2_snapshots_v
WHERE $__timeFilter(time) AND spread_bps IS NOT NULL
GROUP BY t, coin
ORDER BY t
