/*
 * throttle: counting failed admin logins in the database. See throttle.h.
 */
#include "throttle.h"

#include <stdio.h>
#include <stdlib.h>

static int command(db *database, const char *sql)
{
    PGresult *result = db_query(database, DB_ONCE, sql, 0, NULL, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}

static void rollback(db *database)
{
    if (database->connection != NULL)
        PQclear(PQexec(database->connection, "ROLLBACK"));
}

/* Inside the locked transaction: 1 and *attempt, or 0 and *retry_after. */
static int count_and_record(db *database, const char *remote_addr, long long *attempt,
                            int *retry_after)
{
    char window[16];
    char limit[16];
    snprintf(window, sizeof window, "%d", THROTTLE_WINDOW_SECONDS);
    snprintf(limit, sizeof limit, "%d", THROTTLE_MAX_FAILURES);
    /* clock_timestamp(), not now(): the transaction may have waited for the
     * lock, and the minute is the wall clock's. */
    const char *values[] = {window, limit, remote_addr};
    PGresult *result =
        db_query(database, DB_ONCE,
                 "WITH recent AS (SELECT at FROM hv_admin_login_failures"
                 "  WHERE at > clock_timestamp() - make_interval(secs => $1::int)),"
                 " verdict AS (SELECT count(*) >= $2::int AS throttled,"
                 "  greatest(1, ceil(extract(epoch FROM min(at) + make_interval(secs => $1::int)"
                 "   - clock_timestamp())))::int AS retry_after FROM recent),"
                 " added AS (INSERT INTO hv_admin_login_failures (remote_addr)"
                 "  SELECT $3::text FROM verdict WHERE NOT throttled RETURNING id)"
                 " SELECT (SELECT id FROM added), retry_after FROM verdict",
                 3, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int allowed = !PQgetisnull(result, 0, 0);
    if (allowed)
        *attempt = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
    else
        *retry_after = atoi(PQgetvalue(result, 0, 1));
    PQclear(result);
    return allowed;
}

int throttle_begin(db *database, const char *remote_addr, long long *attempt, int *retry_after)
{
    *attempt = 0;
    *retry_after = 0;
    if (command(database, "BEGIN") != 0)
        return -1;
    int verdict = command(database, "SELECT pg_advisory_xact_lock(hashtext('hv_admin_login'))");
    if (verdict == 0)
        verdict = count_and_record(database, remote_addr, attempt, retry_after);
    /* Failures older than a day serve no count; an operator reading the
     * table for an attack has had a day to look. */
    if (verdict >= 0 && command(database, "DELETE FROM hv_admin_login_failures"
                                          " WHERE at < clock_timestamp() - interval '1 day'") != 0)
        verdict = -1;
    if (verdict >= 0 && command(database, "COMMIT") != 0)
        verdict = -1;
    if (verdict < 0)
        rollback(database);
    return verdict;
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
