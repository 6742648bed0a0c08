/*
 * hv_rate: the shared per-shop bucket. See rate_bucket.h for the why and
 * the protocol; this file is its three statements.
 *
 * Taking a slot is one UPDATE whose WHERE holds the whole decision (the
 * level drained to now, plus one, fits under the limit; no Retry-After
 * running). Under READ COMMITTED an UPDATE that waited for another
 * process's lock evaluates its WHERE again on the row that process left,
 * so two processes can never both take the last slot. The shop's first
 * call makes the row in the same statement; two first calls at once make
 * one row, and the one that lost is told to try again at once.
 */
#define _POSIX_C_SOURCE 200809L
#include "haravan/rate_bucket.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Tries of the take statement when it neither took a slot nor saw a
 * reason to wait (the row was being made or changed by another process). */
#define TAKE_TRIES 3

/* The level drained to the statement's moment; $3 is the drain rate. */
#define DRAINED                                                                                    \
    "greatest(0, level - greatest(0, extract(epoch FROM clock_timestamp() - updated_at))"          \
    " * $3::float8)"

static const char take_sql[] =
    "WITH granted AS (UPDATE hv_rate_buckets SET level = " DRAINED " + 1,"
    " updated_at = clock_timestamp(), taken = taken + 1"
    " WHERE org_id = $1 AND (blocked_until IS NULL OR blocked_until <= clock_timestamp())"
    " AND " DRAINED " + 1 <= $2::float8 RETURNING taken),"
    " created AS (INSERT INTO hv_rate_buckets (org_id, level, updated_at, taken)"
    " SELECT $1, 1, clock_timestamp(), 1 WHERE $2::float8 >= 1"
    " AND NOT EXISTS (SELECT 1 FROM hv_rate_buckets WHERE org_id = $1)"
    " ON CONFLICT (org_id) DO NOTHING RETURNING taken)"
    " SELECT (SELECT taken FROM granted UNION ALL SELECT taken FROM created LIMIT 1),"
    /* greatest() ignores a NULL blocked_until. */
    " (SELECT ceil(1000 * greatest((" DRAINED " + 1 - $2::float8) / $3::float8,"
    " extract(epoch FROM blocked_until - clock_timestamp())))"
    " FROM hv_rate_buckets WHERE org_id = $1)";

void hv_rate_limits_defaults(hv_rate_limits *limits)
{
    limits->size = HV_RATE_BUCKET_SIZE;
    limits->drain_per_second = HV_RATE_DRAIN_PER_SECOND;
    limits->headroom = HV_RATE_HEADROOM;
}

static int limits_valid(db *database, const hv_rate_limits *limits)
{
    if (limits->size >= 1 && limits->headroom >= 0 && limits->headroom < limits->size &&
        limits->drain_per_second > 0)
        return 1;
    snprintf(database->error, sizeof database->error,
             "rate limit: a bucket needs a size of at least 1, a headroom under it and a drain "
             "rate above 0");
    return 0;
}

/* One run of the take statement. Returns 1 (taken), 0 (*wait_ms set, may
 * be 0 or less when there was no reason to wait), or -1. */
static int take_once(db *database, const char *org_id, const hv_rate_limits *limits,
                     long long *ticket, double *wait_ms)
{
    char limit[32], drain[32];
    snprintf(limit, sizeof limit, "%d", limits->size - limits->headroom);
    snprintf(drain, sizeof drain, "%.17g", limits->drain_per_second);
    const char *values[] = {org_id, limit, drain};
    PGresult *result = db_query(database, DB_ONCE, take_sql, 3, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int taken = !PQgetisnull(result, 0, 0);
    if (taken)
        *ticket = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
    *wait_ms = PQgetisnull(result, 0, 1) ? 0 : strtod(PQgetvalue(result, 0, 1), NULL);
    PQclear(result);
    return taken;
}

int hv_rate_take(db *database, const char *org_id, const hv_rate_limits *limits, long long *ticket,
                 long *wait_ms)
{
    *ticket = 0;
    *wait_ms = 0;
    if (!limits_valid(database, limits))
        return -1;
    double wait = 0;
    for (int try = 0; try < TAKE_TRIES; try++) {
        int taken = take_once(database, org_id, limits, ticket, &wait);
        if (taken != 0)
            return taken;
        if (wait > 0)
            break;
    }
    /* No slot: the wait the bucket says, never shorter than the floor
     * (also when a busy row kept us from seeing a reason to wait). */
    *wait_ms = wait > HV_RATE_MIN_WAIT_MS ? (long)ceil(wait) : HV_RATE_MIN_WAIT_MS;
    return 0;
}

int hv_rate_observe(db *database, const char *org_id, const hv_rate_limits *limits,
                    long long ticket, int used)
{
    if (!limits_valid(database, limits))
        return -1;
    char used_text[32], ticket_text[32], size[32];
    snprintf(used_text, sizeof used_text, "%d", used < 0 ? 0 : used);
    snprintf(ticket_text, sizeof ticket_text, "%lld", ticket);
    snprintf(size, sizeof size, "%d", limits->size);
    const char *values[] = {org_id, used_text, ticket_text, size};
    PGresult *result =
        db_query(database, DB_IDEMPOTENT,
                 "UPDATE hv_rate_buckets SET updated_at = clock_timestamp(),"
                 " level = least($4::float8, $2::float8 + greatest(0, taken - $3::bigint))"
                 " WHERE org_id = $1",
                 4, values, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}

int hv_rate_refused(db *database, const char *org_id, const hv_rate_limits *limits,
                    double retry_after_seconds)
{
    if (!limits_valid(database, limits))
        return -1;
    char size[32], seconds[32];
    snprintf(size, sizeof size, "%d", limits->size);
    snprintf(seconds, sizeof seconds, "%.3f", retry_after_seconds > 0 ? retry_after_seconds : 0);
    const char *values[] = {org_id, size, seconds};
    PGresult *result =
        db_query(database, DB_IDEMPOTENT,
                 "INSERT INTO hv_rate_buckets (org_id, level, updated_at, blocked_until)"
                 " VALUES ($1, $2::float8, clock_timestamp(),"
                 " clock_timestamp() + make_interval(secs => $3::float8))"
                 " ON CONFLICT (org_id) DO UPDATE SET level = excluded.level,"
                 " updated_at = excluded.updated_at,"
                 " blocked_until = greatest(hv_rate_buckets.blocked_until, excluded.blocked_until)",
                 3, values, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}
