/*
 * hv_catchup: one step of a job: the count first, then the next page
 * after the checkpoint, and the checkpoint it leaves. See catchup.h for
 * the checkpoint and its promises.
 */
#define _POSIX_C_SOURCE 200809L
#include "haravan/catchup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "haravan/catchup_page.h"
#include "haravan/catchup_store.h"

int hv_catchup_runner_init(hv_catchup_runner *runner, const char *api_url,
                           const unsigned char *master_key, int reconcile_seconds, char *error,
                           size_t error_size)
{
    memset(runner, 0, sizeof *runner);
    hv_api_options options;
    hv_api_options_defaults(&options, api_url);
    options.shared_bucket = 1;
    hv_rate_limits_defaults(&runner->limits);
    runner->limits.headroom = HV_CATCHUP_HEADROOM;
    runner->master_key = master_key;
    runner->overlap_seconds = HV_RECONCILE_OVERLAP_SECONDS;
    runner->reconcile_seconds = reconcile_seconds;
    return hv_api_client_init(&runner->client, &options, error, error_size);
}

void hv_catchup_runner_free(hv_catchup_runner *runner)
{
    hv_api_client_free(&runner->client);
}

/* `text` moved by `seconds` (negative: back), as an ISO 8601 UTC time
 * with microseconds, by PostgreSQL's clock arithmetic. */
static int shifted(db *database, const char *text, double seconds, char *out, size_t size)
{
    char by[32];
    snprintf(by, sizeof by, "%.6f", seconds);
    const char *values[] = {text, by};
    PGresult *result = db_query(
        database, DB_IDEMPOTENT,
        "SELECT to_char((hv_timestamptz($1) + make_interval(secs => $2::float8)) AT TIME ZONE"
        " 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
        2, values, NULL, NULL);
    if (result == NULL)
        return -1;
    snprintf(out, size, "%s", PQgetvalue(result, 0, 0));
    PQclear(result);
    return out[0] != '\0' ? 0 : -1;
}

/* Appends "&name=value" with '+' sent as %2B (a '+' reaches a server as a
 * space). */
static void add_time(char *path, size_t size, const char *name, const char *value)
{
    size_t used = strlen(path);
    used += (size_t)snprintf(path + used, size - used, "&%s=", name);
    for (const char *c = value; *c != '\0' && used + 4 < size; c++)
        used += (size_t)snprintf(path + used, size - used, *c == '+' ? "%%2B" : "%c", *c);
}

/* The next page's path after the checkpoint. Returns 0 or -1. */
static int next_path(db *database, const hv_catchup_job *job, char *path, size_t size)
{
    snprintf(path, size, "%s.json?limit=%d%s", job->kind, HV_CATCHUP_PAGE,
             strcmp(job->kind, "orders") == 0 ? "&status=any" : "");
    if (job->in_instant) {
        size_t used = strlen(path);
        snprintf(path + used, size - used, "&order=id%%20asc&since_id=%lld", job->instant_since);
        add_time(path, size, "updated_at_min", job->watermark);
        add_time(path, size, "updated_at_max", job->watermark);
        return 0;
    }
    size_t used = strlen(path);
    snprintf(path + used, size - used, "&order=updated_at%%20asc");
    char from[HV_CATCHUP_MAX_TEXT];
    if (job->watermark[0] == '\0') {
        if (job->since[0] != '\0')
            add_time(path, size, "updated_at_min", job->since);
        return 0;
    }
    if (!job->past_instant) {
        add_time(path, size, "updated_at_min", job->watermark);
        return 0;
    }
    if (shifted(database, job->watermark, 0.000001, from, sizeof from) != 0)
        return -1;
    add_time(path, size, "updated_at_min", from);
    return 0;
}

static void text_of(const cJSON *record, const char *name, char *out, size_t size)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(record, name);
    if (cJSON_IsString(value))
        snprintf(out, size, "%s", value->valuestring);
    else
        out[0] = '\0';
}

static int seen_at_watermark(const hv_catchup_job *job, long long id)
{
    for (int i = 0; i < job->watermark_id_count; i++)
        if (job->watermark_ids[i] == id)
            return 1;
    return 0;
}

static long long id_of(const cJSON *record)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(record, "id");
    return cJSON_IsNumber(id)   ? (long long)id->valuedouble
           : cJSON_IsString(id) ? strtoll(id->valuestring, NULL, 10)
                                : 0;
}

/* The checkpoint after a page listed by updated_at. `fresh` gets the
 * records not stored before; returns how many. */
static size_t advance_by_time(hv_catchup_job *job, const cJSON *list, const cJSON **fresh)
{
    size_t count = 0;
    int all_at_watermark = job->watermark[0] != '\0';
    char last[HV_CATCHUP_MAX_TEXT] = "";
    const cJSON *record = NULL;
    cJSON_ArrayForEach(record, list)
    {
        char at[HV_CATCHUP_MAX_TEXT];
        text_of(record, "updated_at", at, sizeof at);
        int at_watermark = strcmp(at, job->watermark) == 0;
        all_at_watermark = all_at_watermark && at_watermark;
        if (!(at_watermark && seen_at_watermark(job, id_of(record))))
            fresh[count++] = record;
        snprintf(last, sizeof last, "%s", at);
    }
    int size = cJSON_GetArraySize(list);
    if (size == HV_CATCHUP_PAGE && all_at_watermark) {
        /* A whole page of one instant: page it by id, skipping what
         * this page stores. */
        job->in_instant = 1;
        job->instant_since = 0;
        for (size_t i = 0; i < count; i++)
            if (job->watermark_id_count <
                (int)(sizeof job->watermark_ids / sizeof job->watermark_ids[0]))
                job->watermark_ids[job->watermark_id_count++] = id_of(fresh[i]);
        return count;
    }
    if (size == 0)
        return 0;
    if (strcmp(last, job->watermark) != 0) {
        snprintf(job->watermark, sizeof job->watermark, "%s", last);
        job->watermark_id_count = 0;
        job->past_instant = 0;
    }
    cJSON_ArrayForEach(record, list)
    {
        char at[HV_CATCHUP_MAX_TEXT];
        text_of(record, "updated_at", at, sizeof at);
        long long id = id_of(record);
        if (strcmp(at, last) == 0 && !seen_at_watermark(job, id) &&
            job->watermark_id_count <
                (int)(sizeof job->watermark_ids / sizeof job->watermark_ids[0]))
            job->watermark_ids[job->watermark_id_count++] = id;
    }
    return count;
}

/* The checkpoint after a page of one instant listed by id. */
static size_t advance_in_instant(hv_catchup_job *job, const cJSON *list, const cJSON **fresh)
{
    size_t count = 0;
    const cJSON *record = NULL;
    cJSON_ArrayForEach(record, list)
    {
        long long id = id_of(record);
        if (!seen_at_watermark(job, id))
            fresh[count++] = record;
        if (id > job->instant_since)
            job->instant_since = id;
    }
    if (cJSON_GetArraySize(list) < HV_CATCHUP_PAGE) {
        job->in_instant = 0;
        job->past_instant = 1;
        job->watermark_id_count = 0;
    }
    return count;
}

static hv_catchup_outcome stop(db *database, hv_catchup_job *job, const char *why)
{
    snprintf(job->state, sizeof job->state, "stopped");
    return hv_catchup_set_state(database, job, "stopped", why) == 0 ? HV_CATCHUP_STOPPED
                                                                    : HV_CATCHUP_FAILED;
}

/* A call that did not give an answer: the outcome for the caller. */
static hv_catchup_outcome not_answered(db *database, hv_catchup_job *job, hv_catchup_call call,
                                       const char *why)
{
    if (call == HV_CATCHUP_CALL_NOT_NOW)
        return HV_CATCHUP_WAIT;
    if (call == HV_CATCHUP_CALL_NO_TOKEN)
        return stop(database, job, why);
    if (call == HV_CATCHUP_CALL_DATABASE)
        return HV_CATCHUP_FAILED;
    job->errors++;
    const char *values[] = {job->org_id, job->job, why};
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "UPDATE hv_catchup SET errors = errors + 1, last_error = $3,"
                                " updated_at = now() WHERE org_id = $1 AND job = $2",
                                3, values, NULL, NULL);
    if (result == NULL)
        return HV_CATCHUP_FAILED;
    PQclear(result);
    return HV_CATCHUP_WAIT;
}

/* count.json for an import's total. */
static hv_catchup_outcome count_total(hv_catchup_runner *runner, db *database, hv_catchup_job *job,
                                      long *wait_ms)
{
    char path[400], why[400] = "";
    snprintf(path, sizeof path, "%s/count.json?%s", job->kind,
             strcmp(job->kind, "orders") == 0 ? "status=any" : "");
    if (job->since[0] != '\0')
        add_time(path, sizeof path, "updated_at_min", job->since);
    cJSON *answer = NULL;
    hv_catchup_call call =
        hv_catchup_get(runner, database, job->org_id, path, &answer, wait_ms, why, sizeof why);
    if (call != HV_CATCHUP_CALL_OK)
        return not_answered(database, job, call, why);
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(answer, "count");
    job->total = cJSON_IsNumber(count) ? (long long)count->valuedouble : 0;
    job->calls++;
    cJSON_Delete(answer);
    snprintf(job->state, sizeof job->state, "running");
    return hv_catchup_save(database, job) == 0 ? HV_CATCHUP_PROGRESS : HV_CATCHUP_FAILED;
}

/* A reconciliation's run starts one overlap before its watermark. */
static int start_run(db *database, hv_catchup_runner *runner, hv_catchup_job *job)
{
    if (strcmp(job->state, "running") == 0)
        return 0;
    char from[HV_CATCHUP_MAX_TEXT];
    if (shifted(database, job->watermark, -(double)runner->overlap_seconds, from, sizeof from) != 0)
        return -1;
    snprintf(job->high_water, sizeof job->high_water, "%s", job->watermark);
    snprintf(job->watermark, sizeof job->watermark, "%s", from);
    job->watermark_id_count = 0;
    job->in_instant = 0;
    job->past_instant = 0;
    job->done = 0;
    job->stored = 0;
    snprintf(job->state, sizeof job->state, "running");
    return hv_catchup_save(database, job);
}

static hv_catchup_outcome finish(db *database, hv_catchup_job *job)
{
    const char *state = job->reconcile ? "idle" : "done";
    snprintf(job->state, sizeof job->state, "%s", state);
    return hv_catchup_set_state(database, job, state, NULL) == 0 ? HV_CATCHUP_FINISHED
                                                                 : HV_CATCHUP_FAILED;
}

hv_catchup_outcome hv_catchup_step(hv_catchup_runner *runner, db *database, hv_catchup_job *job,
                                   long *wait_ms)
{
    *wait_ms = 0;
    if (job->reconcile && start_run(database, runner, job) != 0)
        return HV_CATCHUP_FAILED;
    if (!job->reconcile && job->total < 0)
        return count_total(runner, database, job, wait_ms);
    char path[600], why[400] = "";
    if (next_path(database, job, path, sizeof path) != 0)
        return HV_CATCHUP_FAILED;
    cJSON *answer = NULL;
    hv_catchup_call call =
        hv_catchup_get(runner, database, job->org_id, path, &answer, wait_ms, why, sizeof why);
    if (call != HV_CATCHUP_CALL_OK)
        return not_answered(database, job, call, why);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(answer, job->kind);
    int size = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || size > HV_CATCHUP_PAGE) {
        cJSON_Delete(answer);
        return not_answered(database, job, HV_CATCHUP_CALL_FAILED,
                            "Haravan's answer has no list of records (or more than a page)");
    }
    int was_in_instant = job->in_instant;
    const cJSON *fresh[HV_CATCHUP_PAGE];
    size_t count =
        was_in_instant ? advance_in_instant(job, list, fresh) : advance_by_time(job, list, fresh);
    job->done += (long long)count;
    job->calls++;
    snprintf(job->state, sizeof job->state, "running");
    int stored = hv_catchup_store_page(database, job, fresh, count);
    cJSON_Delete(answer);
    if (stored != 0)
        return HV_CATCHUP_FAILED;
    if (!was_in_instant && !job->in_instant && size < HV_CATCHUP_PAGE)
        return finish(database, job);
    return HV_CATCHUP_PROGRESS;
}
