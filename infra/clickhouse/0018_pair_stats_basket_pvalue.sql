-- 0018: a basket has no Engle-Granger p-value (Johansen alone tests it): eg_pvalue is NULL for it
-- instead of NaN, which JSON cannot carry on pf.pair_stats. Rows stored before keep their NaN.
ALTER TABLE pair_stats MODIFY COLUMN eg_pvalue Nullable(Float64);
