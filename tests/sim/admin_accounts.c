/*
 * admin_accounts: the /sim/ controls of the accounts and webhook parts
 * (see admin.h and tests/sim/README.md):
 *
 *   POST /sim/apps              register or update an app (apps.h)
 *   GET  /sim/apps/{client_id}  show it
 *   POST /sim/keys/rotate       a new signing key with a new kid
 *   GET, POST /sim/config       {"access_token_seconds","delivery_timeout_ms",
 *                                "delivery_retries","refresh_token_usage",
 *                                "c_hash","at_hash",
 *                                "subscribe_delay_ms": a slow webhook service}
 *   POST /sim/tokens/expire     {"token"}: that access token answers 401
 *   POST /sim/refresh/revoke    {"refresh_token"}: it answers invalid_grant
 *   POST /sim/fire              {"topic","org_id"?,"sample"?,"body"?}
 *   GET, POST /sim/portal       the developer portal as a page: a person
 *                               pastes the webhook Callback URL and Verify
 *                               Token there, as on Haravan's partner site
 *
 * They are here rather than in routes_admin.c because they act on the
 * accounts state (key, apps, grants, subscriptions), which the REST-side
 * controls never touch.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "core/form.h"
#include "deliveries.h"
#include "pages.h"
#include "reply.h"

#define PORTAL_MAX_BODY 8192

/* ---- apps ------------------------------------------------------------- */

void sim_admin_apps_put(sim *s, request *r, const cJSON *body)
{
    char error[256];
    const cJSON *app = sim_apps_put(&s->apps, body, error, sizeof error);
    if (app == NULL) {
        sim_admin_error(r, 400, error);
        return;
    }
    sim_admin_reply_object(r, 200, cJSON_Duplicate(app, 1));
}

void sim_admin_apps_get(sim *s, request *r, const char *client_id)
{
    const cJSON *app = sim_apps_find(&s->apps, client_id);
    if (app == NULL) {
        sim_admin_error(r, 404, "no such app");
        return;
    }
    sim_admin_reply_object(r, 200, cJSON_Duplicate(app, 1));
}

/* ---- developer portal (a page for people; the tests use /sim/apps) ---- */

static void reply_portal(sim *s, request *r, int status, const char *notice, const char *error)
{
    buffer page = BUFFER_INIT;
    if (sim_page_portal(&page, s->apps.list, notice, error) != 0 || page.data == NULL) {
        buffer_free(&page);
        sim_admin_error(r, 500, "simulator out of memory");
        return;
    }
    sim_reply_typed(r, status, "text/html; charset=utf-8", "Cache-Control: no-store\r\n", page.data,
                    page.length);
    buffer_free(&page);
}

/* The form's fields as the /sim/apps body that changes only the webhook. */
static cJSON *portal_update(const form *fields)
{
    const char *client_id = form_get(fields, "client_id");
    const char *callback_url = form_get(fields, "callback_url");
    const char *verify_token = form_get(fields, "verify_token");
    if (client_id == NULL || callback_url == NULL || verify_token == NULL)
        return NULL;
    cJSON *body = cJSON_CreateObject();
    cJSON *webhook = cJSON_AddObjectToObject(body, "webhook");
    if (cJSON_AddStringToObject(body, "client_id", client_id) == NULL || webhook == NULL ||
        cJSON_AddStringToObject(webhook, "callback_url", callback_url) == NULL ||
        cJSON_AddStringToObject(webhook, "verify_token", verify_token) == NULL) {
        cJSON_Delete(body);
        return NULL;
    }
    return body;
}

void sim_handle_portal(sim *s, request *r)
{
    if (strcmp(r->method, "GET") == 0) {
        reply_portal(s, r, 200, NULL, NULL);
        return;
    }
    if (strcmp(r->method, "POST") != 0) {
        sim_admin_error(r, 405, "method not allowed");
        return;
    }
    form fields;
    if (request_read_body(r, PORTAL_MAX_BODY) != REQUEST_BODY_OK ||
        form_parse(&fields, r->body.data != NULL ? r->body.data : "", r->body.length) != 0) {
        reply_portal(s, r, 400, NULL, "the form could not be read");
        return;
    }
    const char *client_id = form_get(&fields, "client_id");
    cJSON *body = portal_update(&fields);
    char error[256];
    const cJSON *app = NULL;
    if (body == NULL)
        snprintf(error, sizeof error, "client_id, callback_url and verify_token are all needed");
    else if (sim_apps_find(&s->apps, client_id) == NULL)
        snprintf(error, sizeof error, "no such app");
    else
        app = sim_apps_put(&s->apps, body, error, sizeof error);
    cJSON_Delete(body);
    form_free(&fields);
    if (app == NULL)
        reply_portal(s, r, 400, NULL, error);
    else
        reply_portal(s, r, 200, "Đã lưu.", NULL);
}

/* ---- key -------------------------------------------------------------- */

void sim_admin_keys_rotate(sim *s, request *r, const cJSON *body)
{
    if (sim_key_generate(&s->key) != 0) {
        sim_admin_error(r, 500, "cannot make a new RSA key");
        return;
    }
    cJSON *document = cJSON_CreateObject();
    if (cJSON_AddStringToObject(document, "kid", s->key.kid) == NULL) {
        cJSON_Delete(document);
        document = NULL;
    }
    sim_admin_reply_object(r, 200, document);
}

/* ---- config ----------------------------------------------------------- */

static const char *const usage_names[] = {"rotate", "reuse", "omit"};
static const char *const hash_names[] = {"include", "omit", "wrong"};

static cJSON *config_document(const sim_config *config)
{
    cJSON *document = cJSON_CreateObject();
    if (cJSON_AddNumberToObject(document, "access_token_seconds",
                                (double)config->access_token_seconds) == NULL ||
        cJSON_AddNumberToObject(document, "delivery_timeout_ms",
                                (double)config->delivery_timeout_ms) == NULL ||
        cJSON_AddNumberToObject(document, "delivery_retries", (double)config->delivery_retries) ==
            NULL ||
        cJSON_AddStringToObject(document, "refresh_token_usage",
                                usage_names[config->refresh_usage]) == NULL ||
        cJSON_AddStringToObject(document, "c_hash", hash_names[config->c_hash]) == NULL ||
        cJSON_AddStringToObject(document, "at_hash", hash_names[config->at_hash]) == NULL ||
        cJSON_AddNumberToObject(document, "subscribe_delay_ms",
                                (double)config->subscribe_delay_ms) == NULL) {
        cJSON_Delete(document);
        return NULL;
    }
    return document;
}

void sim_admin_config_get(sim *s, request *r, const cJSON *body)
{
    sim_admin_reply_object(r, 200, config_document(&s->config));
}

/* Reads an optional whole number within [minimum, maximum] into `out`. */
static int optional_number(const cJSON *body, const char *name, long minimum, long maximum,
                           long *out)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(body, name);
    long long number = 0;
    if (value == NULL)
        return 0;
    if (sim_whole_number(value, &number) != 0 || number < minimum || number > maximum)
        return -1;
    *out = (long)number;
    return 0;
}

/* Reads optional string `name`, one of `count` `names`, as its index. */
static int optional_choice(const cJSON *body, const char *name, const char *const *names,
                           size_t count, int *out)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(body, name);
    if (value == NULL)
        return 0;
    for (size_t i = 0; cJSON_IsString(value) && i < count; i++) {
        if (strcmp(value->valuestring, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return -1;
}

static int optional_usage(const cJSON *body, sim_refresh_usage *out)
{
    int index = (int)*out;
    if (optional_choice(body, "refresh_token_usage", usage_names,
                        sizeof usage_names / sizeof usage_names[0], &index) != 0)
        return -1;
    *out = (sim_refresh_usage)index;
    return 0;
}

static int optional_hash(const cJSON *body, const char *name, sim_hash_mode *out)
{
    int index = (int)*out;
    if (optional_choice(body, name, hash_names, sizeof hash_names / sizeof hash_names[0], &index) !=
        0)
        return -1;
    *out = (sim_hash_mode)index;
    return 0;
}

void sim_admin_config_set(sim *s, request *r, const cJSON *body)
{
    sim_config config = s->config;
    if (optional_number(body, "access_token_seconds", 1, SIM_MAX_ACCESS_TOKEN_SECONDS,
                        &config.access_token_seconds) != 0 ||
        optional_number(body, "delivery_timeout_ms", 100, SIM_MAX_DELIVERY_TIMEOUT_MS,
                        &config.delivery_timeout_ms) != 0 ||
        optional_number(body, "delivery_retries", 0, SIM_MAX_DELIVERY_RETRIES,
                        &config.delivery_retries) != 0 ||
        optional_usage(body, &config.refresh_usage) != 0 ||
        optional_hash(body, "c_hash", &config.c_hash) != 0 ||
        optional_hash(body, "at_hash", &config.at_hash) != 0 ||
        optional_number(body, "subscribe_delay_ms", 0, SIM_MAX_SUBSCRIBE_DELAY_MS,
                        &config.subscribe_delay_ms) != 0) {
        sim_admin_error(r, 400,
                        "expected {\"access_token_seconds\":1..2592000,"
                        "\"delivery_timeout_ms\":100..10000,\"delivery_retries\":0..5,"
                        "\"refresh_token_usage\":\"rotate\"|\"reuse\"|\"omit\","
                        "\"c_hash\"|\"at_hash\":\"include\"|\"omit\"|\"wrong\","
                        "\"subscribe_delay_ms\":0..20000}");
        return;
    }
    s->config = config;
    sim_admin_reply_object(r, 200, config_document(&s->config));
}

/* ---- tokens ------------------------------------------------------------ */

void sim_admin_tokens_expire(sim *s, request *r, const cJSON *body)
{
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(body, "token");
    if (!cJSON_IsString(token)) {
        sim_admin_error(r, 400, "expected {\"token\":\"...\"}");
        return;
    }
    int expired = sim_store_expire_token(&s->store, token->valuestring);
    sim_reply(r, 200, "", expired ? "{\"expired\":true}" : "{\"expired\":false}");
}

void sim_admin_refresh_revoke(sim *s, request *r, const cJSON *body)
{
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(body, "refresh_token");
    if (!cJSON_IsString(token)) {
        sim_admin_error(r, 400, "expected {\"refresh_token\":\"...\"}");
        return;
    }
    int revoked = sim_grants_revoke_refresh(&s->grants, token->valuestring);
    sim_reply(r, 200, "", revoked ? "{\"revoked\":true}" : "{\"revoked\":false}");
}

/* ---- fire -------------------------------------------------------------- */

/* The body to deliver, from "sample" or "body"; NULL after answering. The
 * caller frees it. */
static char *fire_body(sim *s, request *r, const cJSON *request_body)
{
    const cJSON *sample = cJSON_GetObjectItemCaseSensitive(request_body, "sample");
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(request_body, "body");
    char error[300];
    if ((sample == NULL) == (given == NULL)) {
        sim_admin_error(r, 400, "give one of \"sample\" (a file name) and \"body\"");
        return NULL;
    }
    if (given != NULL) {
        char *text = NULL;
        if (cJSON_IsObject(given))
            text = cJSON_PrintUnformatted(given);
        else if (cJSON_IsString(given) && strlen(given->valuestring) <= SIM_MAX_SAMPLE)
            text = strdup(given->valuestring);
        else
            sim_admin_error(r, 400, "\"body\": a JSON object, or a string sent as it is");
        return text;
    }
    if (!cJSON_IsString(sample)) {
        sim_admin_error(r, 400, "\"sample\": a file name");
        return NULL;
    }
    buffer text = BUFFER_INIT;
    char *body = NULL;
    if (sim_sample_read(s->settings.samples_dir, sample->valuestring, &text, error, sizeof error) ==
        0)
        body = sim_sample_body(text.data, text.length, error, sizeof error);
    buffer_free(&text);
    if (body == NULL)
        sim_admin_error(r, 400, error);
    return body;
}

/* {"callback_url","attempts","status"[,"error"]} for one delivery. */
static int add_outcome(cJSON *list, const char *callback_url, const sim_delivery_outcome *outcome)
{
    cJSON *item = cJSON_CreateObject();
    if (item == NULL || cJSON_AddStringToObject(item, "callback_url", callback_url) == NULL ||
        cJSON_AddNumberToObject(item, "attempts", (double)outcome->attempts) == NULL ||
        cJSON_AddNumberToObject(item, "status", (double)outcome->status) == NULL ||
        (outcome->status == 0 && cJSON_AddStringToObject(item, "error", outcome->error) == NULL) ||
        !cJSON_AddItemToArray(list, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

int sim_fire_to_subscribers(sim *s, const sim_org *org, const char *topic, const char *payload,
                            cJSON *list)
{
    char org_id[32];
    snprintf(org_id, sizeof org_id, "%lld", org->id);
    for (size_t i = 0; i < s->subscriptions.count; i++) {
        const sim_subscription *subscription = &s->subscriptions.items[i];
        const cJSON *app = sim_apps_find(&s->apps, subscription->client_id);
        if (subscription->org_id != org->id || app == NULL ||
            !sim_subscription_has_topic(subscription, topic))
            continue;
        sim_delivery delivery = {
            .callback_url = subscription->callback_url,
            .secret = sim_app_text(app, "client_secret"),
            .topic = topic,
            .org_id = org_id,
            .body = payload,
            .length = strlen(payload),
            .timeout_ms = s->config.delivery_timeout_ms,
            .retries = s->config.delivery_retries,
        };
        sim_delivery_outcome outcome;
        sim_deliver(&delivery, &outcome);
        if (list != NULL && add_outcome(list, subscription->callback_url, &outcome) != 0)
            return -1;
    }
    return 0;
}

void sim_admin_fire(sim *s, request *r, const cJSON *body)
{
    const cJSON *topic = cJSON_GetObjectItemCaseSensitive(body, "topic");
    if (!cJSON_IsString(topic) || !sim_topic_acceptable(topic->valuestring)) {
        sim_admin_error(r, 400, "expected {\"topic\":\"orders/create\",...}");
        return;
    }
    sim_org *org = sim_target_org(s, r, body);
    if (org == NULL)
        return;
    char *payload = fire_body(s, r, body);
    if (payload == NULL)
        return;
    snprintf(r->org_id, sizeof r->org_id, "%lld", org->id);
    cJSON *document = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(document, "deliveries");
    int complete =
        list != NULL && sim_fire_to_subscribers(s, org, topic->valuestring, payload, list) == 0;
    free(payload);
    if (!complete) {
        cJSON_Delete(document);
        document = NULL;
    }
    r->outcome = "fired";
    sim_admin_reply_object(r, 200, document);
}
