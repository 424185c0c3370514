-- The latest fills of our orders.
SELECT time, coin, side, px, sz, px * sz AS notional, fee, closed_pnl, crossed
FROM fills_v
WHERE $__timeFilter(time)
ORDER BY time DESC
LIMIT 100
