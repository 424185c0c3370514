-- Latency from an order's first status record to each of its fills (exchange time, milliseconds).
SELECT f.time AS t, f.coin AS coin, f.ts - o.first_ts AS latency_ms
FROM fills_v AS f
INNER JOIN
(
    SELECT cloid, min(ts) AS first_ts
    FROM orders_v
    WHERE cloid != ''
    GROUP BY cloid
) AS o ON f.cloid = o.cloid
WHERE $__timeFilter(f.time)
ORDER BY t
