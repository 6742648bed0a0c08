/*
 * POST /api/haravan/backfill (admin, state-changing: session and CSRF as
 * every settings-page POST): asks for a historical import, the button
 * "Đồng bộ dữ liệu cũ".
 *
 *   form or JSON: org_id (default: the connected shop updated last),
 *                 since (YYYY-MM-DD, the shop's time; default: everything),
 *                 kinds ("customers,orders" or a JSON array; default both)
 *   202 {"org_id","since","jobs":[{"kind","resumed"}]}
 *   400 {"error":"..."}; 409 {"error":"not_connected"}
 *
 * It records the jobs (hv_catchup) and answers at once: a process that
 * answers HTTP never calls Haravan for this. The processors run queued
 * jobs, a page at a time (cgi/haravan-fcgi/processing.c); the status
 * route shows their progress. A job not done yet is resumed, not
 * restarted.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "admin.h"
#include "core/form.h"
#include "core/json.h"
#include "handlers.h"
#include "haravan/catchup.h"
#include "haravan/shop.h"

#define BACKFILL_JSON_DEPTH 4

typedef struct backfill_request {
    char org_id[HV_SHOP_ORG_ID_SIZE];
    char since[32];
    int customers;
    int orders;
} backfill_request;

/* One kind's name into the request. Returns 0, or -1 for an unknown one. */
static int add_kind(backfill_request *b, const char *name, size_t length)
{
    if (length == strlen("customers") && strncmp(name, "customers", length) == 0)
        b->customers = 1;
    else if (length == strlen("orders") && strncmp(name, "orders", length) == 0)
        b->orders = 1;
    else
        return -1;
    return 0;
}

static int add_kinds_text(backfill_request *b, const char *text)
{
    for (const char *cursor = text; *cursor != '\0';) {
        size_t length = strcspn(cursor, ", ");
        if (length > 0 && add_kind(b, cursor, length) != 0)
            return -1;
        cursor += length;
        cursor += strspn(cursor, ", ");
    }
    return 0;
}

/* Reads the three fields. Returns NULL, or the reason for a 400. */
static const char *read_fields(const char *org_id, const char *since, const cJSON *kinds_array,
                               const char *kinds_text, backfill_request *b)
{
    if (org_id != NULL && (org_id[0] == '\0' || strlen(org_id) >= sizeof b->org_id))
        return "org_id: a shop's org id";
    snprintf(b->org_id, sizeof b->org_id, "%s", org_id != NULL ? org_id : "");
    if (since != NULL && since[0] != '\0' && !hv_catchup_since_valid(since))
        return "since: a date, YYYY-MM-DD";
    snprintf(b->since, sizeof b->since, "%s", since != NULL ? since : "");
    const cJSON *kind = NULL;
    cJSON_ArrayForEach(kind, kinds_array)
    {
        if (!cJSON_IsString(kind) || add_kind(b, kind->valuestring, strlen(kind->valuestring)) != 0)
            return "kinds: customers, orders, or both";
    }
    if (kinds_text != NULL && add_kinds_text(b, kinds_text) != 0)
        return "kinds: customers, orders, or both";
    if (!b->customers && !b->orders)
        b->customers = b->orders = 1;
    return NULL;
}

static const char *field_text(const cJSON *document, const char *name, int *bad)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(document, name);
    if (item != NULL && !cJSON_IsString(item) && !cJSON_IsNull(item))
        *bad = 1;
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Returns NULL, or the reason for a 400. */
static const char *read_request(const request *r, backfill_request *b)
{
    memset(b, 0, sizeof *b);
    const char *type = request_param(r, "CONTENT_TYPE");
    if (type != NULL && strncasecmp(type, "application/json", strlen("application/json")) == 0) {
        cJSON *document = json_parse_bounded(r->body.data, r->body.length, BACKFILL_JSON_DEPTH);
        if (!cJSON_IsObject(document)) {
            cJSON_Delete(document);
            return "the body is not a JSON object";
        }
        int bad = 0;
        const cJSON *kinds = cJSON_GetObjectItemCaseSensitive(document, "kinds");
        const char *why =
            read_fields(field_text(document, "org_id", &bad), field_text(document, "since", &bad),
                        cJSON_IsArray(kinds) ? kinds : NULL,
                        cJSON_IsString(kinds) ? kinds->valuestring : NULL, b);
        if (why == NULL &&
            (bad || (kinds != NULL && !cJSON_IsArray(kinds) && !cJSON_IsString(kinds))))
            why = "org_id, since and kinds are text (kinds may be a list)";
        cJSON_Delete(document);
        return why;
    }
    form fields;
    if (form_parse(&fields, r->body.data, r->body.length) != 0)
        return "the body is not a well-formed form";
    const char *why = read_fields(form_get(&fields, "org_id"), form_get(&fields, "since"), NULL,
                                  form_get(&fields, "kinds"), b);
    form_free(&fields);
    return why;
}

/* Records the jobs; `jobs` gets one {"kind","resumed"} each. Returns 0 or -1. */
static int record_jobs(worker *w, const backfill_request *b, cJSON *jobs)
{
    static const char *const kinds[] = {"customers", "orders"};
    for (int i = 0; i < 2; i++) {
        if (!(i == 0 ? b->customers : b->orders))
            continue;
        int resumed = 0;
        if (hv_catchup_request(&w->database, b->org_id, kinds[i], b->since, "settings page",
                               &resumed) != 0)
            return -1;
        cJSON *job = cJSON_CreateObject();
        if (job == NULL || cJSON_AddStringToObject(job, "kind", kinds[i]) == NULL ||
            cJSON_AddBoolToObject(job, "resumed", resumed) == NULL ||
            !cJSON_AddItemToArray(jobs, job)) {
            cJSON_Delete(job);
            return -1;
        }
    }
    return 0;
}

static void reply_recorded(worker *w, request *r, const backfill_request *b)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *jobs = cJSON_AddArrayToObject(root, "jobs");
    int ok = jobs != NULL && cJSON_AddStringToObject(root, "org_id", b->org_id) != NULL &&
             (b->since[0] != '\0' ? cJSON_AddStringToObject(root, "since", b->since)
                                  : cJSON_AddNullToObject(root, "since")) != NULL &&
             record_jobs(w, b, jobs) == 0;
    char *body = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (body == NULL) {
        r->outcome = "unavailable";
        request_reply_error(r, 503, "cannot record the import now; please retry");
        return;
    }
    r->outcome = "queued";
    request_reply_json(r, 202, body);
    cJSON_free(body);
}

void handle_backfill(worker *w, request *r)
{
    if (!admin_require(w, r, 1))
        return;
    enum request_body_result body = admin_read_body(r);
    if (body != REQUEST_BODY_OK) {
        r->outcome = "bad body";
        request_reply_error(r, body == REQUEST_BODY_TOO_LARGE ? 413 : 400,
                            "cannot read the request body");
        return;
    }
    backfill_request b;
    const char *why = read_request(r, &b);
    if (why != NULL) {
        r->outcome = "invalid";
        request_reply_error(r, 400, why);
        return;
    }
    char error[256] = "", requested[HV_SHOP_ORG_ID_SIZE];
    snprintf(requested, sizeof requested, "%s", b.org_id);
    int picked = hv_shop_pick(&w->database, requested[0] != '\0' ? requested : NULL, b.org_id,
                              error, sizeof error);
    if (picked != 1) {
        r->outcome = picked < 0 ? "unavailable" : "not connected";
        if (picked < 0)
            request_reply_error(r, 503, "cannot read the shops now; please retry");
        else
            request_reply_json(r, 409, "{\"error\":\"not_connected\"}");
        return;
    }
    reply_recorded(w, r, &b);
}
