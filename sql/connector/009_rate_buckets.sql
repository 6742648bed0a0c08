-- 009: one rate-limit bucket per shop, shared by every process on every host.
--
-- Haravan gives each shop a leaky bucket of API calls (80, draining 4 per
-- second). Every process of the connector, on every host, spends the same
-- bucket, so the connector's own copy of it lives here, next to the data
-- those processes share; lib/haravan/rate_bucket.c owns this table and
-- says how it is used. A row is made by the shop's first call.
CREATE TABLE hv_rate_buckets (
    org_id        text PRIMARY KEY,
    level         double precision NOT NULL,  -- calls in the bucket at updated_at
    updated_at    timestamptz NOT NULL,
    blocked_until timestamptz,              -- a 429's Retry-After ends; NULL: none
    taken         bigint NOT NULL DEFAULT 0   -- slots ever granted: each call's ticket
);
