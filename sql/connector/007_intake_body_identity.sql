-- 007: a delivery is also identified by its exact bytes.
--
-- X-Haravan-Org-Id is not covered by the signature, so a signed body sent
-- again under another org header got another dedupe key and became a
-- second event, order and set of crm_events under another shop. The
-- bytes are signed: (topic, SHA-256 of the body) is now unique too, and
-- the inbox's INSERT ... ON CONFLICT DO NOTHING answers such a replay
-- "duplicate". The dedupe key keeps its form, so the redelivery of an
-- event stored before this migration still finds its row.
--
-- Rows stored before: the oldest of each (topic, body) gets its digest, so
-- a replay of an old delivery is caught too; later copies of the same
-- bytes (replays stored before this fix) keep NULL, which a unique index
-- does not compare.
ALTER TABLE hv_events ADD COLUMN body_sha256 bytea;

UPDATE hv_events SET body_sha256 = sha256(body)
 WHERE id IN (SELECT DISTINCT ON (topic, sha256(body)) id
                FROM hv_events ORDER BY topic, sha256(body), id);

CREATE UNIQUE INDEX hv_events_body ON hv_events (topic, body_sha256);
