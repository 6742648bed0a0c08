/*
 * inbox: one idempotent INSERT per delivery. See inbox.h.
 */
#include "inbox/inbox.h"

#include <stdlib.h>

/* Two identities, each unique: the dedupe key (what the delivery says,
 * under the org its header names) and the exact bytes under their topic
 * (body_sha256, computed here from the same parameter). The org header is
 * not covered by the signature; the bytes are, so a signed body replayed
 * under another org is a duplicate. ON CONFLICT without a target covers
 * both indexes.
 *
 * A stored event is due at once. When the caller asks ($12), the same
 * statement notifies the processors: pg_notify is delivered when the
 * INSERT commits, and only then. It is asked only now and then
 * (entry->announce, inbox.h says why), because PostgreSQL commits
 * notifying transactions one at a time. resource and resource_version are
 * what the processors' per-resource claim orders by
 * (sql/connector/008_pipeline.sql). */
static const char insert_sql[] =
    "WITH stored AS (INSERT INTO hv_events (org_id, topic, resource_id, resource_updated_at,"
    " dedupe_key, headers, body, body_sha256, is_test, status, reason, notes, next_attempt_at,"
    " processed_at, resource, resource_version)"
    " VALUES (nullif($1, ''), $2, nullif($3, ''), nullif($4, ''), $5, $6::jsonb, $7,"
    " sha256($7::bytea), $8::boolean, $9::text, $10, $11, now(),"
    " CASE WHEN $9::text = 'dead' THEN now() END,"
    " CASE WHEN $3 <> '' THEN split_part($2, '/', 1) || ':' || $1 || ':' || $3 END,"
    " hv_timestamptz(nullif($4, '')))"
    " ON CONFLICT DO NOTHING RETURNING id)"
    " SELECT id, CASE WHEN $12::boolean THEN pg_notify('" INBOX_CHANNEL "', '') END"
    " FROM stored";

int inbox_store(db *database, const inbox_entry *entry, long long *event_id)
{
    int unparseable = entry->unreadable != NULL;
    /* A body that cannot be parsed will never process; it is kept, dead,
     * with the reason, so that a person sees it and Haravan stops sending. */
    const char *values[] = {
        entry->org_id,
        entry->topic,
        entry->resource_id,
        entry->updated_at,
        entry->dedupe_key,
        entry->headers_json,
        entry->body,
        entry->is_test ? "true" : "false",
        unparseable ? "dead" : "pending",
        entry->unreadable,
        entry->notes,
        entry->announce ? "true" : "false",
    };
    int lengths[12] = {0};
    int formats[12] = {0};
    lengths[6] = (int)entry->body_length;
    formats[6] = 1; /* binary: the body goes in byte for byte */

    PGresult *result =
        db_query(database, DB_IDEMPOTENT, insert_sql, 12, values, lengths, formats);
    if (result == NULL)
        return -1;
    *event_id = PQntuples(result) > 0 ? strtoll(PQgetvalue(result, 0, 0), NULL, 10) : 0;
    PQclear(result);
    return 0;
}
