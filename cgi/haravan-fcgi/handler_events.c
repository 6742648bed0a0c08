/*
 * GET /api/haravan/events and POST /api/haravan/events/{id}/replay: the
 * settings page's sync log.
 *
 * The list is newest first, optionally of one status, at most
 * EVENTS_MAX_LIMIT rows (a page, not an export). A replay is what
 * `haravan-ctl replay ID` does: the event goes back to pending with its
 * attempts reset and is processed at once by this worker's processor;
 * nothing happens twice, since processing only ever fills in what is
 * missing (docs/ARCHITECTURE.md, "Processing").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "admin.h"
#include "core/form.h"
#include "core/log.h"
#include "handlers.h"

#define EVENTS_DEFAULT_LIMIT 50
#define EVENTS_MAX_LIMIT     200
#define EVENTS_PREFIX        "/api/haravan/events/"
#define REPLAY_SUFFIX        "/replay"

static int known_status(const char *status)
{
    static const char *const statuses[] = {"pending", "processing", "done",
                                           "ignored", "dead",       NULL};
    for (size_t i = 0; statuses[i] != NULL; i++)
        if (strcmp(statuses[i], status) == 0)
            return 1;
    return 0;
}

/* Reads ?status=&limit=. Returns NULL, or the message for a 400. */
static const char *read_query(const request *r, char *status, size_t status_size, int *limit)
{
    form query;
    if (form_parse(&query, r->query, strlen(r->query)) != 0)
        return "malformed query string";
    const char *message = NULL;
    const char *given_status = form_get(&query, "status");
    const char *given_limit = form_get(&query, "limit");
    status[0] = '\0';
    *limit = EVENTS_DEFAULT_LIMIT;
    if (given_status != NULL && given_status[0] != '\0') {
        if (known_status(given_status))
            snprintf(status, status_size, "%s", given_status);
        else
            message = "status must be pending, processing, done, ignored or dead";
    }
    if (message == NULL && given_limit != NULL && given_limit[0] != '\0') {
        char *end = NULL;
        long value = strtol(given_limit, &end, 10);
        if (*end != '\0' || value < 1 || given_limit[0] == '+' || given_limit[0] == '-')
            message = "limit must be a positive whole number";
        else
            *limit = value > EVENTS_MAX_LIMIT ? EVENTS_MAX_LIMIT : (int)value;
    }
    form_free(&query);
    return message;
}

/* One row of the list as an object; NULL columns stay JSON null. */
static int add_event(cJSON *array, const PGresult *result, int row)
{
    static const char *const keys[] = {"id",     "received_at", "topic", "org_id",  "resource_id",
                                       "status", "reason",      "notes", "attempts"};
    cJSON *event = cJSON_CreateObject();
    if (event == NULL || !cJSON_AddItemToArray(array, event)) {
        cJSON_Delete(event);
        return -1;
    }
    for (int column = 0; column < 9; column++) {
        const char *value = PQgetvalue(result, row, column);
        cJSON *added = NULL;
        if (PQgetisnull(result, row, column))
            added = cJSON_AddNullToObject(event, keys[column]);
        else if (column == 0 || column == 8)
            added = cJSON_AddNumberToObject(event, keys[column], strtod(value, NULL));
        else
            added = cJSON_AddStringToObject(event, keys[column], value);
        if (added == NULL)
            return -1;
    }
    return 0;
}

void handle_events_list(worker *w, request *r)
{
    if (!admin_require(w, r, 0))
        return;
    char status[16];
    int limit = 0;
    const char *message = read_query(r, status, sizeof status, &limit);
    if (message != NULL) {
        r->outcome = "bad query";
        request_reply_error(r, 400, message);
        return;
    }
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *values[] = {status[0] != '\0' ? status : NULL, limit_text};
    PGresult *result = db_query(
        &w->database, DB_IDEMPOTENT,
        "SELECT id, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " topic, org_id, resource_id, status, reason, notes, attempts"
        " FROM hv_events WHERE ($1::text IS NULL OR status = $1)"
        " ORDER BY id DESC LIMIT $2::int",
        2, values, NULL, NULL);
    if (result == NULL) {
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot read the events now; please retry");
        return;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *array = root != NULL ? cJSON_AddArrayToObject(root, "events") : NULL;
    int ok = array != NULL;
    for (int row = 0; ok && row < PQntuples(result); row++)
        ok = add_event(array, result, row) == 0;
    PQclear(result);
    char *body = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (body == NULL) {
        r->outcome = "out of memory";
        request_reply_error(r, 503, "out of memory; please retry");
        return;
    }
    r->outcome = "shown";
    request_reply_json(r, 200, body);
    free(body);
}

/* The id in /api/haravan/events/{id}/replay, or 0 when it is not one. */
static long long path_event_id(const char *path)
{
    size_t prefix = strlen(EVENTS_PREFIX);
    if (strncmp(path, EVENTS_PREFIX, prefix) != 0)
        return 0;
    const char *digits = path + prefix;
    size_t count = strspn(digits, "0123456789");
    if (count == 0 || count > 18 || digits[0] == '0' || strcmp(digits + count, REPLAY_SUFFIX) != 0)
        return 0;
    return strtoll(digits, NULL, 10);
}

static void reply_replayed(worker *w, request *r, const char *id)
{
    const char *values[] = {id};
    PGresult *result =
        db_query(&w->database, DB_IDEMPOTENT, "SELECT status FROM hv_events WHERE id = $1::bigint",
                 1, values, NULL, NULL);
    if (result == NULL || PQntuples(result) == 0) {
        PQclear(result);
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "the event was replayed; its status cannot be read now");
        return;
    }
    char body[128];
    snprintf(body, sizeof body, "{\"id\":%lld,\"status\":\"%s\"}", r->event_id,
             PQgetvalue(result, 0, 0));
    PQclear(result);
    request_reply_json(r, 200, body);
}

void handle_event_replay(worker *w, request *r)
{
    if (!admin_require(w, r, 1))
        return;
    r->event_id = path_event_id(r->path);
    if (r->event_id <= 0) {
        r->outcome = "no such event";
        request_reply_error(r, 404, "no such event");
        return;
    }
    char id[32];
    snprintf(id, sizeof id, "%lld", r->event_id);
    crm_outcome outcome = CRM_OUTCOME_SKIPPED;
    crm_replay_result replayed = crm_replay_event(&w->processor, r->event_id, &outcome);
    switch (replayed) {
    case CRM_REPLAY_PROCESSED:
        r->outcome = crm_outcome_name(outcome);
        break;
    case CRM_REPLAY_NO_SUCH_EVENT:
        r->outcome = "no such event";
        request_reply_error(r, 404, "no such event");
        return;
    case CRM_REPLAY_STILL_PENDING:
        r->outcome = "still pending";
        request_reply_error(r, 409, "the event is pending or being processed already");
        return;
    case CRM_REPLAY_UNAVAILABLE:
        r->outcome = "unavailable";
        request_reply_error(r, 503, "cannot replay the event now; please retry");
        return;
    case CRM_REPLAY_DEFERRED:
        /* It is pending again: background processing takes it. */
        log_message("error", "replay of event %lld not recorded: %s", r->event_id,
                    w->database.error);
        r->outcome = "unrecorded";
        break;
    }
    reply_replayed(w, r, id);
}
