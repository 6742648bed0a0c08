/*
 * /api/haravan/webhooks (admin): the connected shop's webhook subscription
 * at Haravan (docs/CONNECT.md; docs/HARAVAN.md section 2).
 *
 *   GET  -> {"subscriptions":[...]}   Haravan's GET /api/subscribe, its data
 *   POST -> {"subscription":{...}}    Haravan's POST /api/subscribe, its data
 *
 * Haravan decides what is subscribed (the app's callback URL and topics from
 * its partner dashboard) and checks the callback with the verify-token
 * handshake before answering a POST, so a POST fails with Haravan's
 * verify_failed until the verify token configured here matches the
 * dashboard's. Whatever Haravan refuses is passed on as it came:
 * 502 {"error":"haravan","status":N,"body":...}. Without a connected shop:
 * 409 {"error":"not_connected"}.
 *
 * The request names a shop with ?org_id= (the settings page always does:
 * each shop has its own button); without it, the connected shop updated
 * last, as before several shops could be connected.
 */
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "admin.h"
#include "core/form.h"
#include "core/log.h"
#include "handlers.h"
#include "haravan/shop.h"
#include "haravan/subscribe.h"

/* Replies with `document` (consumed). */
static void reply_document(request *r, int status, cJSON *document)
{
    char *text = document != NULL ? cJSON_PrintUnformatted(document) : NULL;
    cJSON_Delete(document);
    if (text == NULL) {
        request_reply_error(r, 500, "out of memory");
        return;
    }
    request_reply_json(r, status, text);
    cJSON_free(text);
}

void webhooks_reply_refused(request *r, long status, const buffer *body)
{
    cJSON *document = cJSON_CreateObject();
    cJSON *sent = cJSON_ParseWithLength(buffer_text(body), body->length);
    if (sent == NULL && body->length > 0)
        sent = cJSON_CreateString(buffer_text(body));
    if (sent == NULL)
        sent = cJSON_CreateNull();
    if (document == NULL || sent == NULL ||
        cJSON_AddStringToObject(document, "error", "haravan") == NULL ||
        cJSON_AddNumberToObject(document, "status", (double)status) == NULL ||
        !cJSON_AddItemToObject(document, "body", sent)) {
        cJSON_Delete(sent);
        cJSON_Delete(document);
        document = NULL;
    }
    reply_document(r, 502, document);
}

/* Haravan's "data" of `body` (NULL when absent); as a list, always an
 * array (NULL only when out of memory). */
static cJSON *haravan_data(const buffer *body, int as_list)
{
    cJSON *answer = cJSON_ParseWithLength(buffer_text(body), body->length);
    cJSON *data = cJSON_DetachItemFromObjectCaseSensitive(answer, "data");
    cJSON_Delete(answer);
    if (data == NULL || cJSON_IsNull(data)) {
        cJSON_Delete(data);
        return as_list ? cJSON_CreateArray() : cJSON_CreateNull();
    }
    if (!as_list || cJSON_IsArray(data))
        return data;
    /* One subscription as an object: still a list of it. */
    cJSON *list = cJSON_CreateArray();
    if (list != NULL && !cJSON_AddItemToArray(list, data)) {
        cJSON_Delete(list);
        list = NULL;
    }
    if (list == NULL)
        cJSON_Delete(data);
    return list;
}

/* 200 with Haravan's "data" under `key` (as an array for the list). */
static void reply_data(request *r, const buffer *body, const char *key, int as_list)
{
    cJSON *data = haravan_data(body, as_list);
    cJSON *document = cJSON_CreateObject();
    if (document == NULL || data == NULL || !cJSON_AddItemToObject(document, key, data)) {
        cJSON_Delete(data);
        cJSON_Delete(document);
        document = NULL;
    }
    reply_document(r, 200, document);
}

const char *webhooks_requested_org(const request *r, char *out, size_t size)
{
    form query;
    if (form_parse(&query, r->query, strlen(r->query)) != 0)
        return NULL;
    const char *value = form_get(&query, "org_id");
    int found = value != NULL && value[0] != '\0' && strlen(value) < size;
    if (found)
        snprintf(out, size, "%s", value);
    form_free(&query);
    return found ? out : NULL;
}

hv_subscribe_context webhooks_subscribe_context(worker *w)
{
    hv_subscribe_context context = {
        .database = &w->database,
        .master_key = w->configuration->has_master_key ? w->configuration->master_key : NULL,
        .http = &w->haravan.http,
        .refresher = &w->haravan.refresher,
        .webhook_url = w->configuration->webhook_url};
    return context;
}

static void call_haravan(worker *w, request *r, const char *method)
{
    char wanted[HV_SHOP_ORG_ID_SIZE];
    char org_id[HV_SHOP_ORG_ID_SIZE];
    char error[512] = "";
    int picked = hv_shop_pick(&w->database, webhooks_requested_org(r, wanted, sizeof wanted),
                              org_id, error, sizeof error);
    if (picked < 0) {
        log_message("error", "webhooks: %s", error);
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot read the shop now; please retry");
        return;
    }
    if (picked == 0) {
        r->outcome = "not connected";
        request_reply_json(r, 409, "{\"error\":\"not_connected\"}");
        return;
    }
    snprintf(r->org_id, sizeof r->org_id, "%s", org_id);
    hv_subscribe_context context = webhooks_subscribe_context(w);
    hv_http_response response;
    hv_subscribe_status status =
        hv_subscribe_call(&context, org_id, method, &response, error, sizeof error);
    if (status == HV_SUBSCRIBE_NO_TOKEN) {
        r->outcome = "not connected";
        request_reply_json(r, 409, "{\"error\":\"not_connected\"}");
    } else if (status != HV_SUBSCRIBE_ANSWERED) {
        log_message("error", "webhooks: %s %s: %s", method, HV_SUBSCRIBE_PATH, error);
        r->outcome = "haravan unreachable";
        request_reply_json(r, 502, "{\"error\":\"haravan\",\"status\":0,\"body\":null}");
    } else if (response.status < 200 || response.status > 299) {
        r->outcome = "refused by haravan";
        webhooks_reply_refused(r, response.status, &response.body);
    } else {
        /* What this worker shows next comes from Haravan again. */
        subscriptions_cache_clear(&w->subscriptions);
        r->outcome = strcmp(method, "POST") == 0 ? "subscribed" : "listed";
        reply_data(r, &response.body,
                   strcmp(method, "POST") == 0 ? "subscription" : "subscriptions",
                   strcmp(method, "GET") == 0);
    }
    hv_http_response_free(&response);
}

void handle_webhooks_list(worker *w, request *r)
{
    if (admin_require(w, r, 0))
        call_haravan(w, r, "GET");
}

void handle_webhooks_subscribe(worker *w, request *r)
{
    if (admin_require(w, r, 1))
        call_haravan(w, r, "POST");
}

/* Asks Haravan for `org_id`'s list, in WEBHOOKS_STATUS_TIMEOUT_MS and
 * without refreshing the token on a 401 (a refresh may take the token
 * endpoint's full timeout; the refresh duty refreshes ahead anyway). NULL
 * when Haravan did not say. */
static cJSON *ask_haravan(worker *w, const char *org_id)
{
    char error[512] = "";
    hv_subscribe_context context = webhooks_subscribe_context(w);
    context.refresher = NULL;
    context.timeout_ms = WEBHOOKS_STATUS_TIMEOUT_MS;
    hv_http_response response;
    hv_subscribe_status status =
        hv_subscribe_call(&context, org_id, "GET", &response, error, sizeof error);
    cJSON *list = NULL;
    if (status == HV_SUBSCRIBE_ANSWERED && response.status >= 200 && response.status <= 299)
        list = haravan_data(&response.body, 1);
    else
        /* The page shows the rest of the status anyway; the log says why
         * the list is missing. */
        log_message("warning", "status: the subscriptions of shop %s are unknown: %s", org_id,
                    status == HV_SUBSCRIBE_ANSWERED ? "Haravan refused" : error);
    hv_http_response_free(&response);
    return list;
}

cJSON *webhooks_subscriptions(worker *w, const char *org_id, int ask, int *unavailable)
{
    *unavailable = 0;
    cJSON *list = subscriptions_cache_get(&w->subscriptions, org_id);
    if (list != NULL)
        return list;
    list = ask ? ask_haravan(w, org_id) : NULL;
    if (list == NULL) {
        *unavailable = 1;
        return cJSON_CreateArray();
    }
    subscriptions_cache_put(&w->subscriptions, org_id, list);
    return list;
}
