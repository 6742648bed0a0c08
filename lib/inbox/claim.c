/*
 * inbox_claim: the statements a processor runs on hv_events, each as it
 * was in crm/processor.c. See claim.h for what each one promises.
 */
#define _POSIX_C_SOURCE 200809L
#include "inbox/claim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inbox/body.h"
#include "inbox/inbox.h"

PGresult *inbox_load(db *database, const char *id, const char *first_note)
{
    const char *values[] = {id, first_note};
    return db_query(database, DB_IDEMPOTENT,
                    "SELECT topic, coalesce(org_id, ''), status = 'pending', body,"
                    " headers->>'" INBOX_NOT_UTF8_KEY "',"
                    " position($2 in coalesce(notes, '')) = 1"
                    " FROM hv_events WHERE id = $1::bigint",
                    2, values, NULL, NULL);
}

int inbox_lock(db *database, const char *id)
{
    const char *values[] = {id};
    PGresult *result = db_query(database, DB_ONCE,
                                "SELECT 1 FROM hv_events WHERE id = $1::bigint"
                                " AND status = 'pending' FOR UPDATE SKIP LOCKED",
                                1, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int locked = PQntuples(result) > 0;
    PQclear(result);
    return locked;
}

int inbox_finish(db *database, const char *id, const char *status, const char *reason,
                 const char *notes)
{
    const char *values[] = {id, status, reason, notes};
    PGresult *result = db_query(database, DB_ONCE,
                                "UPDATE hv_events SET status = $2, reason = $3, notes = $4,"
                                " attempts = attempts + 1, processed_at = now()"
                                " WHERE id = $1::bigint AND status = 'pending'",
                                4, values, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}

int inbox_record_failure(db *database, const char *id, const char *reason, int max_attempts,
                         int *dead)
{
    char maximum[16];
    snprintf(maximum, sizeof maximum, "%d", max_attempts);
    const char *values[] = {id, reason, maximum};
    PGresult *result =
        db_query(database, DB_IDEMPOTENT,
                 "UPDATE hv_events SET attempts = attempts + 1, reason = $2,"
                 " status = CASE WHEN attempts + 1 >= $3::int THEN 'dead' ELSE 'pending' END,"
                 " processed_at = CASE WHEN attempts + 1 >= $3::int THEN now()"
                 "   ELSE processed_at END,"
                 " next_attempt_at = now() + least(interval '1 hour',"
                 "   interval '1 second' * power(2, attempts) * (0.75 + random() / 2))"
                 " WHERE id = $1::bigint AND status = 'pending' RETURNING status",
                 3, values, NULL, NULL);
    if (result == NULL)
        return -1;
    *dead = PQntuples(result) > 0 && strcmp(PQgetvalue(result, 0, 0), "dead") == 0;
    PQclear(result);
    return 0;
}

int inbox_defer(db *database, const char *id, long wait_ms, const char *note)
{
    char wait[32];
    snprintf(wait, sizeof wait, "%ld", wait_ms);
    const char *values[] = {id, wait, note};
    PGresult *result =
        db_query(database, DB_IDEMPOTENT,
                 "UPDATE hv_events SET notes = $3,"
                 " next_attempt_at = now() + make_interval(secs => $2::float8 / 1000)"
                 " WHERE id = $1::bigint AND status = 'pending'",
                 3, values, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}

/* ---- claiming: one version of a resource at a time, oldest first ---- */

/* An event may be taken when no older version of its resource is pending
 * (an unreadable updated_at counts as oldest; equal versions go by
 * arrival). Events without a resource are their own. */
#define NO_OLDER_VERSION_PENDING                                                                   \
    " NOT EXISTS (SELECT 1 FROM hv_events o WHERE o.status = 'pending'"                            \
    " AND o.resource = e.resource AND (coalesce(o.resource_version, '-infinity'), o.id)"           \
    " < (coalesce(e.resource_version, '-infinity'), e.id))"

/* The session lock a processor holds on a resource while it processes one
 * of its events: (class, hashtext(resource)). Two resources that share a
 * hash only wait for each other. The lock belongs to the session, so a
 * processor that dies (kill -9, a lost connection) releases it at once. */
#define RESOURCE_LOCK "(" INBOX_LOCK_CLASS ", hashtext($1))"

PGresult *inbox_due(db *database)
{
    return db_query(database, DB_IDEMPOTENT,
                    "SELECT e.id, coalesce(e.resource, '') FROM hv_events e"
                    " WHERE e.status = 'pending' AND e.next_attempt_at <= now()"
                    " AND" NO_OLDER_VERSION_PENDING " ORDER BY e.next_attempt_at"
                    " LIMIT " INBOX_DUE_LIMIT,
                    0, NULL, NULL, NULL);
}

int inbox_still_first(db *database, const char *id)
{
    const char *values[] = {id};
    PGresult *result = db_query(
        database, DB_ONCE,
        "SELECT 1 FROM hv_events e WHERE e.id = $1::bigint"
        " AND e.status = 'pending' AND e.next_attempt_at <= now() AND" NO_OLDER_VERSION_PENDING,
        1, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int first = PQntuples(result) > 0;
    PQclear(result);
    return first;
}

static int lock_call(db *database, const char *sql, const char *resource)
{
    const char *values[] = {resource};
    PGresult *result = db_query(database, DB_ONCE, sql, 1, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int granted = PQgetvalue(result, 0, 0)[0] == 't';
    PQclear(result);
    return granted;
}

int inbox_claim_resource(db *database, inbox_claim *claim)
{
    if (claim->resource[0] == '\0')
        return 1; /* no resource: the event's row lock is all it needs */
    int taken = lock_call(database, "SELECT pg_try_advisory_lock" RESOURCE_LOCK, claim->resource);
    if (taken == 1) {
        claim->connection = database->connection;
        claim->backend = PQbackendPID(database->connection);
    }
    return taken;
}

void inbox_release_resource(db *database, const inbox_claim *claim)
{
    if (claim->resource[0] == '\0' || database->connection == NULL ||
        database->connection != claim->connection ||
        PQbackendPID(database->connection) != claim->backend)
        return;
    (void)lock_call(database, "SELECT pg_advisory_unlock" RESOURCE_LOCK, claim->resource);
}

int inbox_claim_first(db *database, const char *id, inbox_claim *claim)
{
    if (claim->resource[0] == '\0')
        return inbox_still_first(database, id);
    const char *values[] = {claim->resource, id};
    PGresult *result = db_query(
        database, DB_ONCE,
        "SELECT pg_try_advisory_lock" RESOURCE_LOCK ","
        " EXISTS (SELECT 1 FROM hv_events e WHERE e.id = $2::bigint AND e.status = 'pending'"
        " AND e.next_attempt_at <= now() AND" NO_OLDER_VERSION_PENDING ")",
        2, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int taken = PQgetvalue(result, 0, 0)[0] == 't';
    int first = PQgetvalue(result, 0, 1)[0] == 't';
    PQclear(result);
    if (!taken)
        return 0;
    claim->connection = database->connection;
    claim->backend = PQbackendPID(database->connection);
    if (!first)
        inbox_release_resource(database, claim);
    return first;
}

/* ---- replay ---- */

inbox_reset_result inbox_reset(db *database, long long event_id, int due_in_seconds, char *resource,
                               size_t resource_size)
{
    char id[32], due[16];
    snprintf(id, sizeof id, "%lld", event_id);
    snprintf(due, sizeof due, "%d", due_in_seconds);
    const char *values[] = {id, due};
    PGresult *result = db_query(
        database, DB_ONCE,
        "WITH reset AS (UPDATE hv_events SET status = 'pending', attempts = 0,"
        " next_attempt_at = now() + make_interval(secs => $2::int), reason = NULL,"
        " resource = coalesce(resource, split_part(topic, '/', 1) || ':' || coalesce(org_id, '')"
        "   || ':' || resource_id),"
        " resource_version = coalesce(resource_version, hv_timestamptz(resource_updated_at))"
        " WHERE id = $1::bigint AND status IN ('dead', 'ignored', 'done')"
        " RETURNING id, coalesce(resource, '') AS resource,"
        " pg_notify('" INBOX_CHANNEL "', '') AS notified)"
        " SELECT (SELECT count(*) FROM reset),"
        " (SELECT count(*) FROM hv_events WHERE id = $1::bigint),"
        " (SELECT resource FROM reset)",
        2, values, NULL, NULL);
    if (result == NULL)
        return INBOX_RESET_FAILED;
    int reset = strcmp(PQgetvalue(result, 0, 0), "0") != 0;
    int exists = strcmp(PQgetvalue(result, 0, 1), "0") != 0;
    snprintf(resource, resource_size, "%s", PQgetvalue(result, 0, 2));
    PQclear(result);
    if (!reset)
        return exists ? INBOX_RESET_NOT_FINISHED : INBOX_RESET_NO_SUCH_EVENT;
    return INBOX_RESET_DONE;
}

/* ---- the processors' sleep ---- */

int inbox_seconds_to_next_due(db *database, const char *if_due_now, double *seconds)
{
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "SELECT CASE WHEN min(next_attempt_at) <= now() THEN $1::float8"
                                " ELSE extract(epoch FROM min(next_attempt_at) - now()) END"
                                " FROM hv_events WHERE status = 'pending'",
                                1, (const char *const[]){if_due_now}, NULL, NULL);
    if (result == NULL)
        return -1;
    int pending = !PQgetisnull(result, 0, 0);
    if (pending)
        *seconds = strtod(PQgetvalue(result, 0, 0), NULL);
    PQclear(result);
    return pending;
}
