-- 005: Haravan's timestamps are timestamps (issue #9, the database room).
--
-- PostgreSQL's timestamptz input also takes words: 'infinity', '-infinity',
-- 'now', 'today', 'tomorrow', 'yesterday', 'epoch'. None of them is a time
-- Haravan recorded. An order version whose updated_at read as 'infinity'
-- would look newer than every later one and freeze the order; 'now' would
-- make a replayed old version look new. So only the ISO 8601 shapes Haravan
-- sends are read ("2026-11-28T08:00:00.123Z", "...+07:00", a bare date,
-- a space for the T); anything else is NULL, as an unreadable value always
-- was.
--
-- STABLE, not IMMUTABLE: a value without an offset is read in the
-- session's TimeZone, so the same text can give another instant.
CREATE OR REPLACE FUNCTION hv_timestamptz(value text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    parsed timestamptz;
BEGIN
    IF value IS NULL OR value !~ ('^\s*\d{4}-\d{2}-\d{2}'
                                  '([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?'
                                  '\s*(Z|z|[+-]\d{2}(:?\d{2})?)?\s*$') THEN
        RETURN NULL;
    END IF;
    parsed := value::timestamptz;
    RETURN CASE WHEN isfinite(parsed) THEN parsed END;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- A birthday, the same way: a real date or timestamp, never 'today'. STABLE
-- for the same reason (the timestamp branch reads TimeZone for a value
-- without an offset).
CREATE OR REPLACE FUNCTION hv_date_in_vietnam(value text) RETURNS date
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF value ~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN value::date;
    END IF;
    RETURN (hv_timestamptz(value) AT TIME ZONE 'UTC' + interval '7 hours')::date;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- Rows frozen by a word read as a time before this migration: their next
-- version from Haravan applies again.
UPDATE orders SET haravan_updated_at = NULL WHERE NOT isfinite(haravan_updated_at);
UPDATE orders SET ordered_at = NULL WHERE NOT isfinite(ordered_at);
UPDATE customers SET haravan_updated_at = NULL WHERE NOT isfinite(haravan_updated_at);
UPDATE payments SET paid_at = NULL WHERE NOT isfinite(paid_at);
