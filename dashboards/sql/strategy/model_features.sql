-- What the rule and the models saw, averaged over all spreads: round-trip cost, spread volatility, leg
-- correlation, and the meta-labeler's probability where it took part.
SELECT $__timeInterval(time) AS t,
       avg(features['cost']) AS round_trip_cost,
       avg(features['spread_vol']) AS spread_vol,
       avgIf(features['correlation'], mapContains(features, 'correlation')) AS leg_correlation,
       avgIf(features['meta_probability'], mapContains(features, 'meta_probability')) AS meta_probability
FROM signals_v
WHERE $__timeFilter(time)
GROUP BY t
ORDER BY t
