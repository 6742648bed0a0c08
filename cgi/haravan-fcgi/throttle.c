/*
 * throttle: counting failed admin logins in the database. See throttle.h.
 */
#include "throttle.h"

#include <stdio.h>
#include <stdlib.h>

/* Whether the last minute holds `limit` failures, from `remote_addr` when
 * `per_address`, else from anyone: 1 (full, with the seconds until one
 * leaves in *retry_after), 0 (room left) or -1. The failure `limit`
 * places back from the newest is the one whose leaving makes room. */
static int window_full(db *database, int per_address, const char *remote_addr, int limit,
                       int *retry_after)
{
    char window[16];
    char position[16];
    snprintf(window, sizeof window, "%d", THROTTLE_WINDOW_SECONDS);
    snprintf(position, sizeof position, "%d", limit - 1);
    const char *values[] = {window, position, per_address ? "1" : "0",
                            remote_addr != NULL ? remote_addr : ""};
    /* clock_timestamp(), not now(): the transaction may have waited for the
     * lock, and the minute is the wall clock's. */
    PGresult *result =
        db_query(database, DB_ONCE,
                 "SELECT greatest(1, ceil(extract(epoch FROM at + make_interval(secs => $1::int)"
                 "  - clock_timestamp())))::int"
                 " FROM hv_admin_login_failures"
                 " WHERE at > clock_timestamp() - make_interval(secs => $1::int)"
                 "  AND (NOT $3::bool OR coalesce(remote_addr, '') = $4::text)"
                 " ORDER BY at DESC OFFSET $2::int LIMIT 1",
                 4, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int full = PQntuples(result) > 0;
    if (full)
        *retry_after = atoi(PQgetvalue(result, 0, 0));
    PQclear(result);
    return full;
}

static int record(db *database, const char *remote_addr, long long *attempt)
{
    const char *values[] = {remote_addr};
    PGresult *result = db_query(database, DB_ONCE,
                                "INSERT INTO hv_admin_login_failures (remote_addr)"
                                " VALUES ($1::text) RETURNING id",
                                1, values, NULL, NULL);
    if (result == NULL)
        return -1;
    *attempt = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
    PQclear(result);
    return 0;
}

/* Inside the locked transaction: 1 and *attempt, or 0 and *retry_after. */
static int count_and_record(db *database, const char *remote_addr, long long *attempt,
                            int *retry_after)
{
    int full = window_full(database, 1, remote_addr, THROTTLE_MAX_FAILURES, retry_after);
    if (full == 0)
        full = window_full(database, 0, NULL, THROTTLE_MAX_FAILURES_GLOBAL, retry_after);
    if (full != 0)
        return full < 0 ? -1 : 0;
    return record(database, remote_addr, attempt) == 0 ? 1 : -1;
}

typedef struct throttle_work {
    const char *remote_addr;
    long long *attempt;
    int *retry_after;
    int verdict;
} throttle_work;

/* The transaction's body: under the lock every login attempt takes, count,
 * record, and forget what is too old to count. */
static int count_under_lock(db *database, void *context)
{
    throttle_work *work = context;
    if (db_command(database, "SELECT pg_advisory_xact_lock(hashtext('hv_admin_login'))") != 0)
        return -1;
    work->verdict = count_and_record(database, work->remote_addr, work->attempt, work->retry_after);
    if (work->verdict < 0)
        return -1;
    /* Failures older than a day serve no count; an operator reading the
     * table for an attack has had a day to look. */
    return db_command(database, "DELETE FROM hv_admin_login_failures"
                                " WHERE at < clock_timestamp() - interval '1 day'");
}

int throttle_begin(db *database, const char *remote_addr, long long *attempt, int *retry_after)
{
    *attempt = 0;
    *retry_after = 0;
    throttle_work work = {remote_addr, attempt, retry_after, -1};
    if (db_transaction(database, count_under_lock, &work) != 0)
        return -1;
    return work.verdict;
}

int throttle_forget(db *database, long long attempt)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", attempt);
    const char *values[] = {id};
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "DELETE FROM hv_admin_login_failures WHERE id = $1::bigint", 1,
                                values, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}
