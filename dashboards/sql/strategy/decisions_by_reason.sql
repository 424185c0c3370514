-- Strategy decisions per interval by the reason the rule gave (hold, entries, exits, vetoes).
SELECT $__timeInterval(time) AS t, reason, count() AS decisions
FROM signals_v
WHERE $__timeFilter(time)
GROUP BY t, reason
ORDER BY t
