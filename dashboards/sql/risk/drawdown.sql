-- Drawdown (%) of portfolio equity from its running peak within the range.
SELECT t, 100 * (equity / max(equity) OVER (ORDER BY t) - 1) AS drawdown_pct
FROM
(
    SELECT $__timeInterval(time) AS t, argMax(equity, ts) AS equity
    FROM pnl_v
    WHERE $__timeFilter(time) AND scope = 'portfolio'
    GROUP BY t
)
ORDER BY t
