-- Rejected orders in the range by reason (risk checks and venue answers).
SELECT reason, count() AS rejected, uniqExact(coin) AS coins, max(time) AS last
FROM orders_v
WHERE $__timeFilter(time) AND status ILIKE '%reject%'
GROUP BY reason
ORDER BY rejected DESC
