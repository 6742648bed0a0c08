-- 010: the catch-up engine (issue #11): the historical import and the
-- reconciliation of missed webhooks keep their checkpoints here
-- (lib/haravan/catchup_job.c; docs/CONNECT.md, "Catching up").
--
-- One row per (shop, job): job is 'customers/import', 'orders/import',
-- 'customers/reconcile' or 'orders/reconcile'. The checkpoint is a
-- position in Haravan's listing ordered by updated_at, never a page
-- number (records updated meanwhile move to the end and shift pages):
--   watermark      the updated_at (as Haravan wrote it) of the last record
--                  stored; the next page asks updated_at_min = watermark
--   watermark_ids  the ids stored at exactly that instant, skipped when
--                  the next page shows them again
--   in_instant     more records than a page share the watermark's
--                  instant: they are paged by id within it (since_id)
--   instant_since  the last id taken from that instant
--   past_instant   the watermark's instant is exhausted: the next page
--                  starts just after it
CREATE TABLE hv_catchup (
    org_id         text NOT NULL,
    job            text NOT NULL CHECK (job IN ('customers/import', 'orders/import',
                                                'customers/reconcile', 'orders/reconcile')),
    state          text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'stopped', 'failed', 'idle')),
    since          timestamptz,          -- the import's start; NULL: everything
    watermark      text,                 -- Haravan's updated_at text of the last record stored
    watermark_ids  bigint[] NOT NULL DEFAULT '{}',
    high_water     text,                 -- a reconciliation's watermark before its run
                                         -- (the run starts one overlap before it)
    in_instant     boolean NOT NULL DEFAULT false,
    instant_since  bigint NOT NULL DEFAULT 0,
    past_instant   boolean NOT NULL DEFAULT false,
    done           bigint NOT NULL DEFAULT 0,   -- records listed and stored (or already held)
    stored         bigint NOT NULL DEFAULT 0,   -- of them, new events in the inbox
    total          bigint,               -- count.json at the start; NULL: not asked yet
    calls          bigint NOT NULL DEFAULT 0,   -- API calls made for it
    errors         bigint NOT NULL DEFAULT 0,
    last_error     text,
    requested_by   text,
    started_at     timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    -- the reconciliation's last run
    last_run_at    timestamptz,
    last_found     bigint,               -- records listed by the last run
    last_new       bigint,               -- of them, new events (webhooks that never came)
    PRIMARY KEY (org_id, job)
);
