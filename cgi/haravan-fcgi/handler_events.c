/*
 * GET /api/haravan/events and POST /api/haravan/events/{id}/replay: the
 * settings page's sync log.
 *
 * The list is a page of events, newest first, at most EVENTS_MAX_LIMIT
 * rows (a page, not an export), filtered by ?org_id=, ?topic= and
 * ?status= (the outcome). Pages are a keyset on the id: ?before=ID gives
 * the events older than ID, and each answer's "next_before" is the id to
 * ask with for the next page (null on the last), so a page never shifts
 * while new events arrive, and a deep page costs what the first does.
 * Every parameter is checked, and an unknown one is a 400 naming it: a
 * misspelt filter must not quietly show everything.
 *
 * A replay puts the event back to pending with its attempts reset, due at
 * once, and notifies the processors (crm_replay_queue); a worker never
 * processes. It then reads the event's status until it is no longer
 * pending, for at most REPLAY_WAIT_MS (one cheap SELECT every 25 ms), so
 * that the page shows the outcome; an event still pending then is
 * answered as "pending". Nothing happens twice, since processing only
 * ever fills in what is missing (docs/ARCHITECTURE.md, "Processing").
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
#include "haravan/shop.h"
#include "haravan/webhook.h"
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

/* What a page of the sync log is asked for; empty strings for "any". */
typedef struct events_query {
    char org_id[HV_SHOP_ORG_ID_SIZE];
    char topic[128];
    char status[16];
    char before[24];
    int limit;
} events_query;

/* A positive whole number of at most 18 digits (no sign, no leading 0). */
static int is_id(const char *text)
{
    size_t digits = strspn(text, "0123456789");
    return digits > 0 && digits <= 18 && text[digits] == '\0' && text[0] != '0';
}

/* Checks one parameter into `q`. Returns NULL, or the message for a 400. */
static const char *read_parameter(events_query *q, const char *name, const char *value)
{
    if (value[0] == '\0')
        return NULL; /* an empty filter is "any", as a form sends it */
    if (strcmp(name, "status") == 0) {
        if (!known_status(value))
            return "status must be pending, processing, done, ignored or dead";
        snprintf(q->status, sizeof q->status, "%s", value);
    } else if (strcmp(name, "org_id") == 0) {
        if (strlen(value) >= sizeof q->org_id)
            return "org_id must be shorter than 64 bytes";
        snprintf(q->org_id, sizeof q->org_id, "%s", value);
    } else if (strcmp(name, "topic") == 0) {
        if (strlen(value) >= sizeof q->topic || !hv_webhook_topic_valid(value))
            return "topic must be a Haravan topic like orders/create";
        snprintf(q->topic, sizeof q->topic, "%s", value);
    } else if (strcmp(name, "before") == 0) {
        if (!is_id(value))
            return "before must be an event id (a positive whole number)";
        snprintf(q->before, sizeof q->before, "%s", value);
    } else if (strcmp(name, "limit") == 0) {
        char *end = NULL;
        long number = strtol(value, &end, 10);
        if (*end != '\0' || number < 1 || value[0] == '+' || value[0] == '-')
            return "limit must be a positive whole number";
        q->limit = number > EVENTS_MAX_LIMIT ? EVENTS_MAX_LIMIT : (int)number;
    } else {
        return "unknown parameter: the sync log takes org_id, topic, status, before and limit";
    }
    return NULL;
}

/* Reads ?org_id=&topic=&status=&before=&limit=. Returns NULL, or the
 * message for a 400. */
static const char *read_query(const request *r, events_query *q)
{
    memset(q, 0, sizeof *q);
    q->limit = EVENTS_DEFAULT_LIMIT;
    form query;
    if (form_parse(&query, r->query, strlen(r->query)) != 0)
        return "malformed query string";
    const char *message = NULL;
    for (size_t i = 0; message == NULL && i < query.count; i++)
        message = read_parameter(q, query.fields[i].name, query.fields[i].value);
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

static const char *or_null(const char *text)
{
    return text[0] != '\0' ? text : NULL;
}

/* {"events":[...],"next_before":id|null} of a result of up to limit + 1
 * rows: the extra row only says that another page follows. */
static char *page_document(const PGresult *result, int limit)
{
    int rows = PQntuples(result);
    int shown = rows > limit ? limit : rows;
    cJSON *root = cJSON_CreateObject();
    cJSON *array = root != NULL ? cJSON_AddArrayToObject(root, "events") : NULL;
    int ok = array != NULL;
    for (int row = 0; ok && row < shown; row++)
        ok = add_event(array, result, row) == 0;
    if (ok)
        ok = (rows > limit ? cJSON_AddNumberToObject(root, "next_before",
                                                     strtod(PQgetvalue(result, shown - 1, 0), NULL))
                           : cJSON_AddNullToObject(root, "next_before")) != NULL;
    char *body = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return body;
}

void handle_events_list(worker *w, request *r)
{
    if (!admin_require(w, r, 0))
        return;
    events_query q;
    const char *message = read_query(r, &q);
    if (message != NULL) {
        r->outcome = "bad query";
        request_reply_error(r, 400, message);
        return;
    }
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", q.limit + 1);
    PGresult *result = inbox_list_events(&w->database, or_null(q.org_id), or_null(q.topic),
                                         or_null(q.status), or_null(q.before), limit_text);
    if (result == NULL) {
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot read the events now; please retry");
        return;
    }
    char *body = page_document(result, q.limit);
    PQclear(result);
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
