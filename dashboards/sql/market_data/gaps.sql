-- Missed spans of a stream in the range, newest first, and whether REST filled them.
SELECT time, coin, stream, fromUnixTimestamp64Milli(start_ts, 'UTC') AS gap_start,
       (end_ts - start_ts) / 1000 AS seconds, filled, reason
FROM gaps_v
WHERE $__timeFilter(time)
ORDER BY time DESC
LIMIT 200
