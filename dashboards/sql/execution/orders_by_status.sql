-- Order status changes per interval, by status.
SELECT $__timeInterval(time) AS t, status, count() AS orders
FROM orders_v
WHERE $__timeFilter(time)
GROUP BY t, status
ORDER BY t
