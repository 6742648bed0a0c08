-- intake-insert.sql: PostgreSQL's own single-row insert rate, for tests/bench/run.sh.
--
-- The same statement haravan-fcgi runs for each webhook delivery
-- (lib/inbox/inbox.c): the same columns, the same casts, the same
-- ON CONFLICT DO NOTHING RETURNING id and the same pg_notify to wake the
-- processors, as often as the intake sends it: at most once per 50 ms per
-- session (PostgreSQL commits notifying transactions one at a time, a cost
-- the intake pays that often and so must this row), one autocommit
-- transaction per row. run.sh passes the body (the captured Haravan payload,
-- so the same size) and the stored headers with -D, and runs pgbench with
-- -M prepared: parsed and planned once per session, parameters apart from
-- the SQL text, as lib/core/db.c prepares each statement once per
-- connection. pgbench can only compute integers, so
-- the dedupe key is glued together in SQL; that costs microseconds. The
-- body is the same in every row, and (topic, body_sha256) is unique, so the
-- digest here is of the body followed by the resource id: the same hashing
-- as the C code's sha256($7) over a few more bytes, and every row is new.
--
-- Every transaction gets a fresh resource id, so every key is new and every
-- row is really inserted: id_base (per pgbench run) + client_id * 10^9 + a
-- per-client counter (pgbench keeps a client's variables from one
-- transaction to the next; seq starts at 0 through -D seq=0).
\set seq :seq + 1
\set resource :id_base + :client_id * 1000000000 + :seq
WITH stored AS (
    INSERT INTO hv_events (org_id, topic, resource_id, resource_updated_at, dedupe_key,
                           headers, body, body_sha256, is_test, status, reason, notes,
                           next_attempt_at, processed_at, resource, resource_version)
    VALUES (nullif(:org::text, ''), :topic::text, nullif(:resource::text, ''),
            nullif(:updated::text, ''),
            'v1:' || :org::text || ':' || :topic::text || ':' || :resource::text || ':' || :updated::text,
            :headers::jsonb, :body::bytea,
            sha256(:body::bytea || convert_to(:resource::text, 'UTF8')), false, 'pending'::text, NULL,
            NULL, now(), CASE WHEN 'pending'::text = 'dead' THEN now() END,
            CASE WHEN :resource::text <> '' THEN split_part(:topic::text, '/', 1) || ':' || :org::text
                 || ':' || :resource::text END,
            hv_timestamptz(nullif(:updated::text, '')))
    ON CONFLICT DO NOTHING RETURNING id),
-- The intake announces at most one stored event per 50 ms per worker
-- (INBOX_WAKE_MS, timed from the announcing INSERT): here per session, the
-- time of the last announcing statement kept in a session setting.
clock AS (SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms)
SELECT id,
       CASE WHEN coalesce(nullif(current_setting('bench.announced_ms', true), '')::bigint, 0)
                 <= now_ms - 50
            THEN set_config('bench.announced_ms', now_ms::text, false) || pg_notify('hv_events', '')::text
       END
FROM stored, clock;
