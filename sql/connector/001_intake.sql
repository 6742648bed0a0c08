-- 001: connector settings and the webhook inbox.
--
-- hv_settings holds what the merchant configures. Secrets (client secret,
-- verify token, later tokens) are sealed with AES-256-GCM by the C code
-- under HARAVAN_MASTER_KEY before they reach this table; the database
-- never sees them in the clear.
CREATE TABLE hv_settings (
    name       text PRIMARY KEY,
    value      text,
    sealed     bytea,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT hv_settings_one_form CHECK ((value IS NULL) <> (sealed IS NULL))
);

-- hv_events is the inbox: every verified delivery, byte for byte, before
-- anything else happens to it. A row is written, committed, and only then
-- does Haravan get its 200. dedupe_key makes a redelivery a no-op.
CREATE TABLE hv_events (
    id                  bigserial PRIMARY KEY,
    org_id              text,
    topic               text NOT NULL,
    resource_id         text,
    resource_updated_at text,
    dedupe_key          text NOT NULL,
    headers             jsonb NOT NULL DEFAULT '{}',
    body                bytea NOT NULL,
    is_test             boolean NOT NULL DEFAULT false,
    status              text NOT NULL DEFAULT 'pending',
    reason              text,
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    received_at         timestamptz NOT NULL DEFAULT now(),
    processed_at        timestamptz,
    CONSTRAINT hv_events_status_known
        CHECK (status IN ('pending', 'processing', 'done', 'ignored', 'dead')),
    CONSTRAINT hv_events_dead_has_reason CHECK (status <> 'dead' OR reason IS NOT NULL)
);

CREATE UNIQUE INDEX hv_events_dedupe ON hv_events (dedupe_key);
CREATE INDEX hv_events_due ON hv_events (next_attempt_at) WHERE status = 'pending';
CREATE INDEX hv_events_by_status ON hv_events (status, id);
CREATE INDEX hv_events_by_resource ON hv_events (org_id, topic, resource_id);
