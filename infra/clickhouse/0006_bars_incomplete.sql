-- 0006: bars overlapping an unfilled trade gap are marked incomplete (events.Bar.incomplete): trades
-- of their window may be missing, so analysts and the strategy can leave them out.

ALTER TABLE bars_1s ADD COLUMN IF NOT EXISTS incomplete Bool DEFAULT false AFTER sell_volume;

ALTER TABLE bars_1m ADD COLUMN IF NOT EXISTS incomplete Bool DEFAULT false AFTER sell_volume;
