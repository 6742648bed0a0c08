-- 012: delivery bodies compressed with lz4 instead of pglz.
--
-- An order delivery is 5 to 7 kB of JSON: above the 2 kB at which
-- PostgreSQL compresses a row's largest values, so every intake INSERT
-- compresses its body, and every processor's read decompresses it. pglz,
-- the default, is slow at both; lz4 (PostgreSQL 14 and later, when built
-- with it, as Debian's is) does the same work in a fraction of the time,
-- for a slightly larger stored body. Measured with pgbench on the intake's
-- own INSERT: docs/PERFORMANCE.md, "Issue #10", the body's compression.
-- Rows stored before keep pglz; PostgreSQL reads both.
--
-- A server without lz4 refuses the method (feature_not_supported); that
-- is no reason to refuse the migration: the column keeps pglz and the
-- notice says so.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE hv_events ALTER COLUMN body SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'hv_events.body stays compressed with pglz: %', SQLERRM;
END $$;
