-- Exchange-to-collector lag of trades (local receive time minus exchange time), seconds, per coin.
SELECT $__timeInterval(time) AS t, coin, avg(recv_ts - ts) / 1000 AS lag_s
FROM trades_v
WHERE $__timeFilter(time)
GROUP BY t, coin
ORDER BY t
