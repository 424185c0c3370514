-- Slippage of each fill against the mid of the last best bid/offer before it, in bps (positive = paid).
SELECT f.time AS t, f.coin AS coin,
       if(f.side = 'B', 1, -1) * (f.px / ((b.bid_px + b.ask_px) / 2) - 1) * 10000 AS slippage_bps
FROM fills_v AS f
ASOF INNER JOIN (SELECT coin, ts, bid_px, ask_px FROM bbo_v WHERE bid_px IS NOT NULL AND ask_px IS NOT NULL) AS b
    ON f.coin = b.coin AND f.ts >= b.ts
WHERE $__timeFilter(f.time)
ORDER BY t
