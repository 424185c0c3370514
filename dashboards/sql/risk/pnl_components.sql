-- Portfolio PnL split into realised, unrealised, fees and funding (USD).
SELECT $__timeInterval(time) AS t, argMax(realized_pnl, ts) AS realized, argMax(unrealized_pnl, ts) AS unrealized,
       argMax(fees, ts) AS fees_paid, argMax(funding, ts) AS funding_paid
FROM pnl_v
WHERE $__timeFilter(time) AND scope = 'portfolio'
GROUP BY t
ORDER BY t
