-- crm 002: CRM rows frozen by a word read as a time (issue #9; the reading
-- itself is fixed by the connector set's 005_db_timestamps.sql, which the
-- connector set applies before this set): their next version from Haravan
-- applies again. Until the split into two sets this was the end of the
-- single set's 005; on a new database it changes nothing.
UPDATE orders SET haravan_updated_at = NULL WHERE NOT isfinite(haravan_updated_at);
UPDATE orders SET ordered_at = NULL WHERE NOT isfinite(ordered_at);
UPDATE customers SET haravan_updated_at = NULL WHERE NOT isfinite(haravan_updated_at);
UPDATE payments SET paid_at = NULL WHERE NOT isfinite(paid_at);
