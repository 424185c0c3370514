-- The newest scan result of each candidate pair, best ranked first.
SELECT pair, argMax(rank, window_end) AS rank, argMax(correlation, window_end) AS correlation,
       argMax(hedge_ratio, window_end) AS hedge_ratio, argMax(eg_pvalue, window_end) AS eg_pvalue,
       argMax(qvalue, window_end) AS qvalue, argMax(half_life, window_end) AS half_life,
       argMax(hurst, window_end) AS hurst, fromUnixTimestamp64Milli(max(window_end), 'UTC') AS scanned_until
FROM pair_stats_v
GROUP BY pair
ORDER BY rank ASC NULLS LAST, eg_pvalue
LIMIT 200
