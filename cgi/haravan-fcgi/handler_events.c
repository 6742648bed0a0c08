/*
 * GET /api/haravan/events and POST /api/haravan/events/{id}/replay: the
 * settings page's sync log.
 *
 * The list is newest first, optionally of one status, at most
 * EVENTS_MAX_LIMIT rows (a page, not an export). A replay puts the event
 * back to pending with its attempts reset, due at once, and notifies the
 * processors (crm_replay_queue); a worker never processes. It then reads
 * the event's status until it is no longer pending, for at most
 * REPLAY_WAIT_MS (one cheap SELECT every 25 ms), so that the page shows
 * the outcome; an event still pending then is answered as "pending".
 * Nothing happens twice, since processing only ever fills in what is
 * missing (docs/ARCHITECTURE.md, "Processing").
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "admin.h"
#include "core/form.h"
#include "core/log.h"
#include "crm/processor.h"
#include "handlers.h"
#include "inbox/view.h"

#define EVENTS_DEFAULT_LIMIT 50
#define EVENTS_MAX_LIMIT     200
#define EVENTS_PREFIX        "/api/haravan/events/"
#define REPLAY_SUFFIX        "/replay"
#define REPLAY_WAIT_MS       5000
#define REPLAY_POLL_MS       25

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
    PGresult *result =
        inbox_list_events(&w->database, status[0] != '\0' ? status : NULL, limit_text);
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

/* Answers {"id","status"} once the processors have finished the event,
 * or with "pending" after REPLAY_WAIT_MS. */
static void reply_replayed(worker *w, request *r, const char *id)
{
    for (int waited = 0;; waited += REPLAY_POLL_MS) {
        char status[16];
        if (inbox_event_status(&w->database, id, status, sizeof status) <= 0) {
            r->outcome = "database unavailable";
            request_reply_error(r, 503, "the event was replayed; its status cannot be read now");
            return;
        }
        if (strcmp(status, "pending") != 0 || waited >= REPLAY_WAIT_MS) {
            char body[128];
            snprintf(body, sizeof body, "{\"id\":%s,\"status\":\"%s\"}", id, status);
            r->outcome = strcmp(status, "pending") != 0 ? "replayed" : "queued";
            request_reply_json(r, 200, body);
            return;
        }
        struct timespec pause = {0, REPLAY_POLL_MS * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
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
    switch (crm_replay_queue(&w->database, r->event_id)) {
    case CRM_REPLAY_QUEUED:
    case CRM_REPLAY_PROCESSED:
    case CRM_REPLAY_DEFERRED:
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
    }
    reply_replayed(w, r, id);
}
