-- Value at risk and expected shortfall by method and confidence (USD).
SELECT $__timeInterval(time) AS t, concat(metric, ' ', toString(confidence), ' ', horizon) AS measure,
       argMax(value, ts) AS usd
FROM risk_metrics_v
WHERE $__timeFilter(time) AND scope = 'portfolio'
GROUP BY t, measure
ORDER BY t
