/*
 * hv_catchup jobs: the rows of hv_catchup (sql/connector/010_catchup.sql)
 * that hold each job's checkpoint. See catchup.h.
 *
 * The watermark ids are a bigint[] written and read as PostgreSQL's text
 * form ({1,2,3}); a page holds at most HV_CATCHUP_PAGE of them.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "haravan/catchup.h"

static const char columns[] =
    "org_id, job, state, coalesce(to_char(since AT TIME ZONE 'UTC',"
    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), coalesce(watermark, ''), watermark_ids::text,"
    " in_instant, instant_since, past_instant, done, stored, coalesce(total, -1), calls, errors,"
    " coalesce(high_water, '')";

static void read_ids(const char *text, hv_catchup_job *job)
{
    job->watermark_id_count = 0;
    const char *cursor = text;
    while (*cursor != '\0' && job->watermark_id_count <
                                  (int)(sizeof job->watermark_ids / sizeof job->watermark_ids[0])) {
        cursor += strcspn(cursor, "0123456789");
        if (*cursor == '\0')
            break;
        char *end = NULL;
        job->watermark_ids[job->watermark_id_count++] = strtoll(cursor, &end, 10);
        cursor = end;
    }
}

static void read_row(PGresult *result, hv_catchup_job *job)
{
    memset(job, 0, sizeof *job);
    snprintf(job->org_id, sizeof job->org_id, "%s", PQgetvalue(result, 0, 0));
    snprintf(job->job, sizeof job->job, "%s", PQgetvalue(result, 0, 1));
    snprintf(job->kind, sizeof job->kind, "%.*s", (int)strcspn(job->job, "/"), job->job);
    job->reconcile = strstr(job->job, "/reconcile") != NULL;
    snprintf(job->state, sizeof job->state, "%s", PQgetvalue(result, 0, 2));
    snprintf(job->since, sizeof job->since, "%s", PQgetvalue(result, 0, 3));
    snprintf(job->watermark, sizeof job->watermark, "%s", PQgetvalue(result, 0, 4));
    read_ids(PQgetvalue(result, 0, 5), job);
    job->in_instant = PQgetvalue(result, 0, 6)[0] == 't';
    job->instant_since = strtoll(PQgetvalue(result, 0, 7), NULL, 10);
    job->past_instant = PQgetvalue(result, 0, 8)[0] == 't';
    job->done = strtoll(PQgetvalue(result, 0, 9), NULL, 10);
    job->stored = strtoll(PQgetvalue(result, 0, 10), NULL, 10);
    job->total = strtoll(PQgetvalue(result, 0, 11), NULL, 10);
    job->calls = strtoll(PQgetvalue(result, 0, 12), NULL, 10);
    job->errors = strtoll(PQgetvalue(result, 0, 13), NULL, 10);
    snprintf(job->high_water, sizeof job->high_water, "%s", PQgetvalue(result, 0, 14));
}

int hv_catchup_load(db *database, const char *org_id, const char *job, hv_catchup_job *out)
{
    char sql[600];
    snprintf(sql, sizeof sql, "SELECT %s FROM hv_catchup WHERE org_id = $1 AND job = $2", columns);
    const char *values[] = {org_id, job};
    PGresult *result = db_query(database, DB_IDEMPOTENT, sql, 2, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int found = PQntuples(result) > 0;
    if (found)
        read_row(result, out);
    PQclear(result);
    return found;
}

/* A done job starts anew, from `since`. Returns 1 when it was reset, 0
 * when there was none to reset, -1. */
static int reset_done(db *database, const char *org_id, const char *job, const char *since)
{
    const char *values[] = {org_id, job, since};
    PGresult *result = db_query(
        database, DB_ONCE,
        "UPDATE hv_catchup SET state = 'queued', since = hv_timestamptz($3), watermark = NULL,"
        " watermark_ids = '{}', in_instant = false, instant_since = 0, past_instant = false,"
        " done = 0, stored = 0, total = NULL, calls = 0, errors = 0, last_error = NULL,"
        " started_at = NULL, finished_at = NULL, updated_at = now()"
        " WHERE org_id = $1 AND job = $2 AND state = 'done' RETURNING 1",
        3, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int reset = PQntuples(result) > 0;
    PQclear(result);
    return reset;
}

int hv_catchup_since_valid(const char *day)
{
    static const char shape[] = "dddd-dd-dd";
    if (strlen(day) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == 'd' ? (day[i] < '0' || day[i] > '9') : day[i] != '-')
            return 0;
    return 1;
}

int hv_catchup_request(db *database, const char *org_id, const char *kind, const char *since,
                       const char *requested_by, int *resumed)
{
    char job[32];
    snprintf(job, sizeof job, "%s/import", kind);
    /* A day is the shop's: Haravan's shops keep Vietnamese time. */
    char day_start[48];
    const char *from = since != NULL && since[0] != '\0' ? since : NULL;
    if (from != NULL && strlen(from) == 10) {
        snprintf(day_start, sizeof day_start, "%sT00:00:00+07:00", from);
        from = day_start;
    }
    int reset = reset_done(database, org_id, job, from);
    if (reset < 0)
        return -1;
    /* Any other job is kept, checkpoint and all, to be resumed by whoever
     * asked now (a stopped or failed one is queued again). */
    const char *values[] = {org_id, job, from, requested_by};
    PGresult *result =
        db_query(database, DB_ONCE,
                 "INSERT INTO hv_catchup (org_id, job, state, since, requested_by)"
                 " VALUES ($1, $2, 'queued', hv_timestamptz($3), $4)"
                 " ON CONFLICT (org_id, job) DO UPDATE SET requested_by = excluded.requested_by,"
                 " last_error = NULL, updated_at = now(), state = CASE WHEN hv_catchup.state"
                 " IN ('stopped', 'failed') THEN 'queued' ELSE hv_catchup.state END"
                 " RETURNING xmax = 0",
                 4, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int inserted = PQntuples(result) > 0 && PQgetvalue(result, 0, 0)[0] == 't';
    *resumed = !inserted && !reset;
    PQclear(result);
    return 0;
}

static int write_ids(const hv_catchup_job *job, char *out, size_t size)
{
    size_t used = (size_t)snprintf(out, size, "{");
    for (int i = 0; i < job->watermark_id_count && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%lld", i > 0 ? "," : "",
                                 job->watermark_ids[i]);
    if (used + 2 > size)
        return -1;
    snprintf(out + used, size - used, "}");
    return 0;
}

int hv_catchup_save(db *database, const hv_catchup_job *job)
{
    char ids[2200], instant_since[32], done[32], stored[32], total[32], calls[32], errors[32];
    if (write_ids(job, ids, sizeof ids) != 0) {
        snprintf(database->error, sizeof database->error, "too many watermark ids");
        return -1;
    }
    snprintf(instant_since, sizeof instant_since, "%lld", job->instant_since);
    snprintf(done, sizeof done, "%lld", job->done);
    snprintf(stored, sizeof stored, "%lld", job->stored);
    snprintf(total, sizeof total, "%lld", job->total);
    snprintf(calls, sizeof calls, "%lld", job->calls);
    snprintf(errors, sizeof errors, "%lld", job->errors);
    const char *values[] = {job->org_id,
                            job->job,
                            job->watermark[0] != '\0' ? job->watermark : NULL,
                            ids,
                            job->in_instant ? "true" : "false",
                            instant_since,
                            job->past_instant ? "true" : "false",
                            done,
                            stored,
                            job->total >= 0 ? total : NULL,
                            calls,
                            errors,
                            job->state,
                            job->high_water[0] != '\0' ? job->high_water : NULL};
    PGresult *result = db_query(
        database, DB_ONCE,
        "UPDATE hv_catchup SET watermark = $3, watermark_ids = $4::bigint[],"
        " in_instant = $5::boolean, instant_since = $6::bigint, past_instant = $7::boolean,"
        " done = $8::bigint, stored = $9::bigint, total = $10::bigint, calls = $11::bigint,"
        " errors = $12::bigint, state = $13, high_water = $14,"
        " started_at = coalesce(started_at, now()), updated_at = now()"
        " WHERE org_id = $1 AND job = $2",
        14, values, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}

int hv_catchup_set_state(db *database, const hv_catchup_job *job, const char *state,
                         const char *last_error)
{
    const char *values[] = {job->org_id, job->job, state, last_error};
    PGresult *result = db_query(
        database, DB_IDEMPOTENT,
        "UPDATE hv_catchup SET state = $3, last_error = $4, updated_at = now(),"
        " started_at = coalesce(started_at, now()),"
        " finished_at = CASE WHEN $3 IN ('done', 'idle', 'stopped', 'failed') THEN now() END,"
        " last_run_at = CASE WHEN $3 = 'idle' THEN now() ELSE last_run_at END,"
        " last_found = CASE WHEN $3 = 'idle' THEN done ELSE last_found END,"
        " last_new = CASE WHEN $3 = 'idle' THEN stored ELSE last_new END,"
        /* A run that found nothing past its old watermark keeps it. */
        " watermark = CASE WHEN $3 = 'idle' AND high_water IS NOT NULL AND (watermark IS NULL"
        " OR hv_timestamptz(watermark) < hv_timestamptz(high_water)) THEN high_water"
        " ELSE watermark END"
        " WHERE org_id = $1 AND job = $2",
        4, values, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}

static int lock_call(db *database, const char *function, const char *org_id, const char *job)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT %s(" HV_CATCHUP_LOCK_CLASS ", hashtext($1 || ' ' || $2))",
             function);
    const char *values[] = {org_id, job};
    PGresult *result = db_query(database, DB_ONCE, sql, 2, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int taken = PQgetvalue(result, 0, 0)[0] == 't';
    PQclear(result);
    return taken;
}

int hv_catchup_lock(db *database, const char *org_id, const char *job)
{
    return lock_call(database, "pg_try_advisory_lock", org_id, job);
}

void hv_catchup_unlock(db *database, const char *org_id, const char *job)
{
    (void)lock_call(database, "pg_advisory_unlock", org_id, job);
}

int hv_catchup_due(db *database, int reconcile_seconds, buffer *out)
{
    char interval[32];
    snprintf(interval, sizeof interval, "%d", reconcile_seconds);
    const char *values[] = {interval};
    /* A connected shop without reconciliation rows gets them, watermark
     * now: its first run, one interval later, looks at what changed since
     * (and one overlap before). */
    PGresult *made = db_query(
        database, DB_IDEMPOTENT,
        "INSERT INTO hv_catchup (org_id, job, state, watermark, last_run_at)"
        " SELECT s.org_id, j.job, 'idle', to_char(now() AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), now()"
        " FROM hv_shops s CROSS JOIN (VALUES ('orders/reconcile'), ('customers/reconcile')) j(job)"
        " WHERE s.status = 'connected' ON CONFLICT DO NOTHING",
        0, NULL, NULL, NULL);
    if (made == NULL)
        return -1;
    PQclear(made);
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                /* An import of a shop that lost its token is stepped too: the
                                 * step stops it with the reason, for the status route. */
                                "SELECT c.org_id, c.job FROM hv_catchup c LEFT JOIN hv_shops s"
                                " ON s.org_id = c.org_id WHERE (c.job LIKE '%/import'"
                                " AND c.state IN ('queued', 'running')"
                                " AND c.requested_by IS DISTINCT FROM '" HV_CATCHUP_BY_CTL "')"
                                " OR (s.status = 'connected' AND c.job LIKE '%/reconcile'"
                                " AND (c.state = 'running' OR c.last_run_at IS NULL"
                                " OR c.last_run_at <= now() - make_interval(secs => $1::int)))"
                                " ORDER BY c.job LIKE '%/reconcile' DESC, c.updated_at",
                                1, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int ok = 1;
    for (int row = 0; ok && row < PQntuples(result); row++) {
        char line[HV_CATCHUP_MAX_TEXT + 40];
        snprintf(line, sizeof line, "%s\t%s\n", PQgetvalue(result, row, 0),
                 PQgetvalue(result, row, 1));
        ok = buffer_append_string(out, line) == 0;
    }
    PQclear(result);
    if (!ok)
        snprintf(database->error, sizeof database->error, "out of memory listing catch-up jobs");
    return ok ? 0 : -1;
}
