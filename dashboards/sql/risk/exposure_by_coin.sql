-- Signed notional exposure (USD) per coin: position size times mark.
SELECT $__timeInterval(time) AS t, coin, argMax(szi * mark_px, ts) AS exposure
FROM positions_v
WHERE $__timeFilter(time)
GROUP BY t, coin
ORDER BY t
