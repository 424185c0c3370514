-- The newest scan result of each candidate pair, best ranked first.
SELECT pair, argMax(rank, window_end) AS pair_rank, argMax(correlation, window_end) AS corr,
       argMax(hedge_ratio, window_end) AS beta, argMax(eg_pvalue, window_end) AS eg_p,
       argMax(qvalue, window_end) AS q, argMax(half_life, window_end) AS half_life_s,
       argMax(hurst, window_end) AS hurst_exponent, fromUnixTimestamp64Milli(max(window_end), 'UTC') AS scanned_until
FROM pair_stats_v
GROUP BY pair
ORDER BY pair_rank ASC NULLS LAST, eg_p
LIMIT 200
