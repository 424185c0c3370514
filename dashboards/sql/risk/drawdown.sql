-- Drawdown (%) of portfolio equity from its running peak within the range.
SELECT t, 100 * (equity_usd / max(equity_usd) OVER (ORDER BY t) - 1) AS drawdown_pct
FROM
(
    SELECT $__timeInterval(time) AS t, argMax(equity, ts) AS equity_usd
    FROM pnl_v
    WHERE $__timeFilter(time) AND scope = 'portfolio'
    GROUP BY t
)
ORDER BY t
