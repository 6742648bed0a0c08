/*
 * subscriptions: the subscription list and /api/subscribe. See
 * subscriptions.h.
 *
 * Answers use the envelope {"data":...,"error":null}; refusals
 * {"error":"forbidden"|"unauthorized"|"verify_failed"|...,"message":...}
 * with 401 (bad token), 403 (scope, or a token that no app was issued),
 * 400 (the handshake failed, or the app has no callback URL).
 */
#define _POSIX_C_SOURCE 200809L
#include "subscriptions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buffer.h"
#include "core/form.h"
#include "outbound.h"
#include "reply.h"
#include "sim.h"

#define SUBSCRIBE_MAX_BODY (64 * 1024)

/* ---- the list ----------------------------------------------------------- */

static void subscription_free(sim_subscription *subscription)
{
    free(subscription->client_id);
    free(subscription->callback_url);
    cJSON_Delete(subscription->topics);
}

static sim_subscription *find(const sim_subscriptions *list, long long org_id,
                              const char *client_id)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].org_id == org_id && strcmp(list->items[i].client_id, client_id) == 0)
            return &list->items[i];
    return NULL;
}

const sim_subscription *sim_subscriptions_find(const sim_subscriptions *list, long long org_id,
                                               const char *client_id)
{
    return find(list, org_id, client_id);
}

const sim_subscription *sim_subscriptions_put(sim_subscriptions *list, long long org_id,
                                              const char *client_id, const char *callback_url,
                                              const cJSON *topics, time_t now)
{
    sim_subscription record = {
        .org_id = org_id,
        .client_id = strdup(client_id),
        .callback_url = strdup(callback_url),
        .topics = cJSON_Duplicate(topics, 1),
    };
    struct tm utc;
    if (gmtime_r(&now, &utc) == NULL ||
        strftime(record.created_at, sizeof record.created_at, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0 ||
        record.client_id == NULL || record.callback_url == NULL || !cJSON_IsArray(record.topics)) {
        subscription_free(&record);
        return NULL;
    }
    sim_subscription *existing = find(list, org_id, client_id);
    if (existing != NULL) {
        subscription_free(existing);
        *existing = record;
        return existing;
    }
    sim_subscription *grown = NULL;
    if (list->count < SIM_MAX_SUBSCRIPTIONS)
        grown = realloc(list->items, (list->count + 1) * sizeof *grown);
    if (grown == NULL) {
        subscription_free(&record);
        return NULL;
    }
    list->items = grown;
    list->items[list->count] = record;
    return &list->items[list->count++];
}

int sim_subscriptions_remove(sim_subscriptions *list, long long org_id, const char *client_id)
{
    sim_subscription *found = find(list, org_id, client_id);
    if (found == NULL)
        return 0;
    subscription_free(found);
    /* Order is kept: a listing shows subscriptions in the order made. */
    size_t index = (size_t)(found - list->items);
    memmove(found, found + 1, (list->count - index - 1) * sizeof *found);
    list->count--;
    return 1;
}

int sim_subscription_has_topic(const sim_subscription *subscription, const char *topic)
{
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, subscription->topics)
    {
        if (cJSON_IsString(item) && strcmp(item->valuestring, topic) == 0)
            return 1;
    }
    return 0;
}

cJSON *sim_subscription_json(const sim_subscription *subscription)
{
    cJSON *json = cJSON_CreateObject();
    cJSON *topics = cJSON_Duplicate(subscription->topics, 1);
    if (json == NULL || topics == NULL ||
        cJSON_AddNumberToObject(json, "org_id", (double)subscription->org_id) == NULL ||
        cJSON_AddStringToObject(json, "callback_url", subscription->callback_url) == NULL ||
        !cJSON_AddItemToObject(json, "topics", topics)) {
        cJSON_Delete(topics);
        cJSON_Delete(json);
        return NULL;
    }
    if (cJSON_AddStringToObject(json, "created_at", subscription->created_at) == NULL) {
        cJSON_Delete(json);
        return NULL;
    }
    return json;
}

void sim_subscriptions_free(sim_subscriptions *list)
{
    for (size_t i = 0; i < list->count; i++)
        subscription_free(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof *list);
}

/* ---- /api/subscribe ------------------------------------------------------ */

static void reply_refusal(request *r, int status, const char *error, const char *message)
{
    cJSON *document = cJSON_CreateObject();
    if (cJSON_AddStringToObject(document, "error", error) == NULL ||
        cJSON_AddStringToObject(document, "message", message) == NULL) {
        cJSON_Delete(document);
        sim_reply(r, 500, "", "{\"error\":\"out of memory\"}");
        return;
    }
    r->outcome = error;
    sim_reply_document(r, status, "", document);
    cJSON_Delete(document);
}

/* {"data": data, "error": null}; takes ownership of `data`. */
static void reply_data(request *r, cJSON *data)
{
    cJSON *document = cJSON_CreateObject();
    if (document == NULL || data == NULL || !cJSON_AddItemToObject(document, "data", data)) {
        cJSON_Delete(data);
        cJSON_Delete(document);
        reply_refusal(r, 500, "internal", "simulator out of memory");
        return;
    }
    if (cJSON_AddNullToObject(document, "error") == NULL) {
        cJSON_Delete(document);
        reply_refusal(r, 500, "internal", "simulator out of memory");
        return;
    }
    sim_reply_document(r, 200, "", document);
    cJSON_Delete(document);
}

/* The handshake URL: the callback with hub.* appended to its query. */
static int handshake_url(buffer *url, const char *callback, const char *verify_token,
                         const char *challenge)
{
    if (buffer_append_string(url, callback) != 0 ||
        buffer_append_string(url, strchr(callback, '?') != NULL ? "&" : "?") != 0 ||
        buffer_append_string(url, "hub.mode=subscribe&hub.verify_token=") != 0 ||
        form_append_encoded(url, verify_token) != 0 ||
        buffer_append_string(url, "&hub.challenge=") != 0 ||
        buffer_append_string(url, challenge) != 0)
        return -1;
    return 0;
}

/* Makes the verify-token handshake. Returns 1 when the callback answered
 * 200 with exactly the challenge; otherwise 0 with `message` saying what it
 * answered instead. */
static int handshake(const sim *s, const cJSON *app, char *message, size_t size)
{
    char challenge[33];
    buffer url = BUFFER_INIT;
    if (sim_random_hex(challenge, 16) != 0 ||
        handshake_url(&url, sim_app_webhook_text(app, "callback_url"),
                      sim_app_webhook_text(app, "verify_token"), challenge) != 0) {
        buffer_free(&url);
        snprintf(message, size, "the simulator could not build the verify-token check");
        return 0;
    }
    sim_outbound_result result;
    int answered = sim_outbound_send("GET", url.data, NULL, NULL, 0, s->config.delivery_timeout_ms,
                                     &result) == 0;
    buffer_free(&url);
    int verified = answered && result.status == 200 && result.body.length == strlen(challenge) &&
                   memcmp(result.body.data, challenge, result.body.length) == 0;
    if (!answered)
        snprintf(message, size, "callback did not answer the verify-token check: %s", result.error);
    else if (result.status != 200)
        snprintf(message, size, "callback answered %ld to the verify-token check", result.status);
    else if (!verified)
        snprintf(message, size,
                 "callback answered 200 to the verify-token check without the challenge");
    sim_outbound_result_free(&result);
    return verified;
}

static void subscribe(sim *s, request *r, const sim_token *token, const cJSON *app)
{
    /* Haravan's own sample sends no body; one that comes is read (within
     * a bound) and not used. */
    enum request_body_result read = request_read_body(r, SUBSCRIBE_MAX_BODY);
    if (read != REQUEST_BODY_OK) {
        reply_refusal(r, read == REQUEST_BODY_TOO_LARGE ? 413 : 400, "invalid_request",
                      "cannot read the body");
        return;
    }
    if (sim_app_webhook_text(app, "callback_url")[0] == '\0') {
        reply_refusal(r, 400, "no_callback",
                      "the app has no webhook callback URL (set it with /sim/apps)");
        return;
    }
    char message[400];
    if (!handshake(s, app, message, sizeof message)) {
        reply_refusal(r, 400, "verify_failed", message);
        return;
    }
    const sim_subscription *subscription = sim_subscriptions_put(
        &s->subscriptions, token->org_id, sim_app_text(app, "client_id"),
        sim_app_webhook_text(app, "callback_url"), sim_app_topics(app), time(NULL));
    if (subscription == NULL) {
        reply_refusal(r, 500, "internal", "cannot store the subscription");
        return;
    }
    r->outcome = "subscribed";
    reply_data(r, sim_subscription_json(subscription));
}

static void list(sim *s, request *r, const sim_token *token, const cJSON *app)
{
    s->counters.subscribe_lists++;
    cJSON *data = cJSON_CreateArray();
    const sim_subscription *found =
        sim_subscriptions_find(&s->subscriptions, token->org_id, sim_app_text(app, "client_id"));
    if (data != NULL && found != NULL) {
        cJSON *item = sim_subscription_json(found);
        if (item == NULL || !cJSON_AddItemToArray(data, item)) {
            cJSON_Delete(item);
            cJSON_Delete(data);
            data = NULL;
        }
    }
    reply_data(r, data);
}

static void unsubscribe(sim *s, request *r, const sim_token *token, const cJSON *app)
{
    int removed =
        sim_subscriptions_remove(&s->subscriptions, token->org_id, sim_app_text(app, "client_id"));
    r->outcome = removed ? "unsubscribed" : "not_subscribed";
    sim_reply(r, 200, "", "{\"data\":null,\"error\":null}");
}

void sim_handle_subscribe(sim *s, request *r)
{
    /* A webhook service that fails (/sim/failures with path_prefix
     * "/api/subscribe"), before anything else, as Haravan's own would. */
    if (sim_inject_failure(s, r))
        return;
    const sim_token *token = sim_authenticate(s, r);
    if (token == NULL) {
        reply_refusal(r, 401, "unauthorized", "invalid or expired access token");
        return;
    }
    snprintf(r->org_id, sizeof r->org_id, "%lld", token->org_id);
    if (!sim_token_has_scope(token, "wh_api") && !sim_token_has_scope(token, "grant_service")) {
        reply_refusal(r, 403, "forbidden",
                      "the token was granted neither wh_api nor grant_service");
        return;
    }
    /* A token from /connect/token acts for its app; a seeded or /sim/tokens
     * token, issued to no app, for the first app registered (in a stack,
     * the one stack.sh registers), so that tests holding the seeded token
     * can subscribe too. */
    const cJSON *app = token->client_id != NULL ? sim_apps_find(&s->apps, token->client_id)
                                                : cJSON_GetArrayItem(s->apps.list, 0);
    if (app == NULL) {
        reply_refusal(r, 403, "forbidden", "no registered app for this token (/sim/apps)");
        return;
    }
    /* A slow webhook service (POST /sim/config): the whole simulator
     * waits, as it is one process. */
    if (s->config.subscribe_delay_ms > 0)
        sim_sleep_ms(s, s->config.subscribe_delay_ms);
    if (strcmp(r->method, "POST") == 0)
        subscribe(s, r, token, app);
    else if (strcmp(r->method, "GET") == 0)
        list(s, r, token, app);
    else if (strcmp(r->method, "DELETE") == 0)
        unsubscribe(s, r, token, app);
    else
        sim_reply(r, 405, "Allow: GET, POST, DELETE\r\n",
                  "{\"error\":\"method_not_allowed\",\"message\":\"GET, POST or DELETE\"}");
}
