-- Price change (%) of each coin since the start of the range, from 1s bar closes, so coins share one axis.
SELECT t, coin, 100 * (last_close / first_value(last_close) OVER (PARTITION BY coin ORDER BY t) - 1) AS change_pct
FROM
(
    SELECT $__timeInterval(time) AS t, coin, argMax(close, ts) AS last_close
    FROM bars_1s_v
    WHERE $__timeFilter(time)
    GROUP BY t, coin
)
ORDER BY t
