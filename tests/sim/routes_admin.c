/*
 * routes_admin: the simulator's controls under /sim/, for tests only;
 * never part of Haravan's API. JSON in, JSON out; errors are
 * {"error":"..."} with 400 (bad input), 404 or 405.
 *
 *   GET  /sim/health          {"status":"ok","orgs":N,"tokens":N}
 *   GET  /sim/counters        API calls served: total, per path, per status;
 *                             and subscribe_lists, the GET /api/subscribe answered
 *   POST /sim/tokens          {"token","org_id","scopes":"a b"|["a","b"]}
 *   POST /sim/tokens/revoke   {"token"}
 *   POST /sim/users           {"org_id"?, "user":{"id",...}}      add or replace
 *   POST /sim/orders          {"org_id"?, "order":{"id",...}}
 *   POST /sim/customers       {"org_id"?, "customer":{"id",...}}
 *   POST /sim/generate        {"org_id"?,"customers":N,"orders":M,"seed":S}
 *   POST /sim/touch           {"org_id"?,"kind","count","seed","fire"?,"drop_percent"?}
 *                             (routes_generate.c)
 *   POST /sim/failures        {"status":500|429|...|"timeout", "count"?,
 *                              "delay_ms"?, "retry_after"?, "path_prefix"?}
 *   GET  /sim/buckets         each shop's bucket: used, size, calls admitted and
 *                             refused (429), the highest level a call left it at
 *                             (max_used), admitted per second since the first
 *   POST /sim/buckets         {"org_id"?, "used":N}   set a shop's bucket level
 *   POST /sim/reset           {"buckets"?,"failures"?,"counters"?} (each
 *                              defaults to true; records and tokens stay)
 *   and the accounts and webhook controls of admin_accounts.c (/sim/apps,
 *   /sim/keys/rotate, /sim/config, /sim/tokens/expire, /sim/refresh/revoke,
 *   /sim/fire).
 *
 * "org_id" defaults to the seeded shop (the lowest org id). A failure with
 * "count" 0 or absent lasts until /sim/reset; a "timeout" stalls each call
 * "delay_ms" (default 20000, at most 120000) and then answers it.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buffer.h"
#include "admin.h"
#include "reply.h"
#include "sim.h"

#define ADMIN_MAX_BODY          (4 * 1024 * 1024)
#define DEFAULT_STALL_MS        20000
#define MAX_STALL_MS            120000
#define DEFAULT_RETRY_AFTER_SEC 0.5

/* ---- shared with admin_accounts.c (admin.h) ---------------------------- */

void sim_admin_error(request *r, int status, const char *message)
{
    cJSON *document = cJSON_CreateObject();
    if (cJSON_AddStringToObject(document, "error", message) == NULL) {
        cJSON_Delete(document);
        sim_reply(r, 500, "", "{\"error\":\"out of memory\"}");
        return;
    }
    sim_reply_document(r, status, "", document);
    cJSON_Delete(document);
}

int sim_whole_number(const cJSON *value, long long *out)
{
    if (cJSON_IsNumber(value) && value->valuedouble >= 0 && value->valuedouble < 9e15 &&
        floor(value->valuedouble) == value->valuedouble) {
        *out = (long long)value->valuedouble;
        return 0;
    }
    if (cJSON_IsString(value) && value->valuestring[0] != '\0' &&
        strspn(value->valuestring, "0123456789") == strlen(value->valuestring) &&
        strlen(value->valuestring) <= 15) {
        *out = strtoll(value->valuestring, NULL, 10);
        return 0;
    }
    return -1;
}

sim_org *sim_target_org(sim *s, request *r, const cJSON *body)
{
    const cJSON *org_id = cJSON_GetObjectItemCaseSensitive(body, "org_id");
    long long id = 0;
    sim_org *org = NULL;
    if (org_id == NULL)
        org = sim_store_default_org(&s->store);
    else if (sim_whole_number(org_id, &id) == 0)
        org = sim_store_org(&s->store, id);
    if (org == NULL)
        sim_admin_error(r, 404, "no such org_id (register a token for it first)");
    return org;
}

void sim_admin_reply_object(request *r, int status, cJSON *document)
{
    if (document == NULL) {
        sim_admin_error(r, 500, "out of memory");
        return;
    }
    sim_reply_document(r, status, "", document);
    cJSON_Delete(document);
}

/* ---- health and counters ---------------------------------------------- */

static void admin_health(sim *s, request *r, const cJSON *body)
{
    char text[128];
    snprintf(text, sizeof text, "{\"status\":\"ok\",\"orgs\":%zu,\"tokens\":%zu}",
             s->store.org_count, s->store.token_count);
    sim_reply(r, 200, "", text);
}

/* NULL when memory ran out (the caller answers 500). */
static cJSON *counters_document(const sim_counters *counters)
{
    cJSON *document = cJSON_CreateObject();
    int complete = cJSON_AddNumberToObject(document, "total", (double)counters->total) != NULL &&
                   cJSON_AddNumberToObject(document, "subscribe_lists",
                                           (double)counters->subscribe_lists) != NULL &&
                   cJSON_AddNumberToObject(document, "deliveries_dropped",
                                           (double)counters->deliveries_dropped) != NULL;
    cJSON *paths = cJSON_AddObjectToObject(document, "paths");
    cJSON *statuses = cJSON_AddObjectToObject(document, "statuses");
    complete = complete && paths != NULL && statuses != NULL;
    for (size_t i = 0; complete && i < counters->count; i++)
        complete = cJSON_AddNumberToObject(paths, counters->paths[i].path,
                                           (double)counters->paths[i].calls) != NULL;
    for (int status = 0; complete && status < SIM_MAX_STATUS; status++) {
        char name[8];
        snprintf(name, sizeof name, "%d", status);
        if (counters->by_status[status] > 0)
            complete = cJSON_AddNumberToObject(statuses, name,
                                               (double)counters->by_status[status]) != NULL;
    }
    if (!complete) {
        cJSON_Delete(document);
        return NULL;
    }
    return document;
}

static void admin_counters(sim *s, request *r, const cJSON *body)
{
    sim_admin_reply_object(r, 200, counters_document(&s->counters));
}

/* ---- tokens ----------------------------------------------------------- */

/* Printable ASCII without spaces: what fits in a Bearer header. */
static int token_valid(const char *token)
{
    size_t length = strlen(token);
    if (length == 0 || length > SIM_MAX_TOKEN_LENGTH)
        return 0;
    for (size_t i = 0; i < length; i++)
        if (token[i] <= ' ' || token[i] > '~')
            return 0;
    return 1;
}

static void admin_tokens(sim *s, request *r, const cJSON *body)
{
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(body, "token");
    long long org_id = 0;
    buffer scopes = BUFFER_INIT;
    if (!cJSON_IsString(token) || !token_valid(token->valuestring) ||
        sim_whole_number(cJSON_GetObjectItemCaseSensitive(body, "org_id"), &org_id) != 0 ||
        org_id < 1 ||
        sim_scopes_text(cJSON_GetObjectItemCaseSensitive(body, "scopes"), &scopes) != 0) {
        buffer_free(&scopes);
        sim_admin_error(r, 400, "expected {\"token\":\"...\",\"org_id\":N,\"scopes\":\"a b\"}");
        return;
    }
    if (sim_store_put_token(&s->store, token->valuestring, org_id, buffer_text(&scopes)) != 0) {
        buffer_free(&scopes);
        sim_admin_error(r, 500, "out of memory");
        return;
    }
    cJSON *document = cJSON_CreateObject();
    if (cJSON_AddNumberToObject(document, "org_id", (double)org_id) == NULL ||
        cJSON_AddStringToObject(document, "scopes", buffer_text(&scopes)) == NULL) {
        cJSON_Delete(document);
        document = NULL;
    }
    buffer_free(&scopes);
    sim_admin_reply_object(r, 201, document);
}

static void admin_revoke(sim *s, request *r, const cJSON *body)
{
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(body, "token");
    if (!cJSON_IsString(token)) {
        sim_admin_error(r, 400, "expected {\"token\":\"...\"}");
        return;
    }
    int revoked = sim_store_revoke_token(&s->store, token->valuestring);
    sim_reply(r, 200, "", revoked ? "{\"revoked\":true}" : "{\"revoked\":false}");
}

/* ---- records ---------------------------------------------------------- */

static void put_record(sim *s, request *r, const cJSON *body, const char *singular)
{
    sim_org *org = sim_target_org(s, r, body);
    if (org == NULL)
        return;
    const cJSON *record = cJSON_GetObjectItemCaseSensitive(body, singular);
    if (!cJSON_IsObject(record) || sim_record_id(record) < 0) {
        char message[128];
        snprintf(message, sizeof message, "expected {\"%s\":{\"id\":N,...}}", singular);
        sim_admin_error(r, 400, message);
        return;
    }
    cJSON *records = strcmp(singular, "user") == 0    ? org->users
                     : strcmp(singular, "order") == 0 ? org->orders
                                                      : org->customers;
    if (sim_record_put(records, cJSON_Duplicate(record, 1)) != 0) {
        sim_admin_error(r, 500, "out of memory");
        return;
    }
    cJSON *document = cJSON_CreateObject();
    cJSON *copy = cJSON_Duplicate(sim_record_find(records, sim_record_id(record)), 1);
    if (copy == NULL || !cJSON_AddItemToObject(document, singular, copy)) {
        cJSON_Delete(copy);
        cJSON_Delete(document);
        document = NULL;
    }
    sim_admin_reply_object(r, 200, document);
}

static void admin_users(sim *s, request *r, const cJSON *body)
{
    put_record(s, r, body, "user");
}

static void admin_orders(sim *s, request *r, const cJSON *body)
{
    put_record(s, r, body, "order");
}

static void admin_customers(sim *s, request *r, const cJSON *body)
{
    put_record(s, r, body, "customer");
}

/* ---- failures, buckets, reset ----------------------------------------- */

static int read_failure_status(const cJSON *status, int *out)
{
    if (cJSON_IsString(status) && strcmp(status->valuestring, "timeout") == 0) {
        *out = 0;
        return 0;
    }
    long long number = 0;
    if (sim_whole_number(status, &number) != 0 || number < 400 || number >= SIM_MAX_STATUS)
        return -1;
    *out = (int)number;
    return 0;
}

static int read_failure(const cJSON *body, sim_failure_plan *plan)
{
    long long count = 0;
    long long delay = DEFAULT_STALL_MS;
    const cJSON *retry_after = cJSON_GetObjectItemCaseSensitive(body, "retry_after");
    const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(body, "path_prefix");
    const cJSON *count_value = cJSON_GetObjectItemCaseSensitive(body, "count");
    const cJSON *delay_value = cJSON_GetObjectItemCaseSensitive(body, "delay_ms");
    memset(plan, 0, sizeof *plan);
    plan->retry_after_seconds = DEFAULT_RETRY_AFTER_SEC;
    if (read_failure_status(cJSON_GetObjectItemCaseSensitive(body, "status"), &plan->status) != 0 ||
        (count_value != NULL && sim_whole_number(count_value, &count) != 0) ||
        (delay_value != NULL &&
         (sim_whole_number(delay_value, &delay) != 0 || delay > MAX_STALL_MS)) ||
        (retry_after != NULL && (!cJSON_IsNumber(retry_after) || retry_after->valuedouble <= 0)) ||
        (prefix != NULL && (!cJSON_IsString(prefix) || strlen(prefix->valuestring) >= 255)))
        return -1;
    plan->armed = 1;
    plan->remaining = count > 0 ? (long)count : -1;
    plan->delay_ms = (long)delay;
    if (retry_after != NULL)
        plan->retry_after_seconds = retry_after->valuedouble;
    snprintf(plan->path_prefix, sizeof plan->path_prefix, "%s",
             prefix != NULL ? prefix->valuestring : "/com/");
    return 0;
}

static void admin_failures(sim *s, request *r, const cJSON *body)
{
    sim_failure_plan plan;
    if (read_failure(body, &plan) != 0) {
        sim_admin_error(r, 400,
                        "expected {\"status\":500|\"timeout\",\"count\":N,\"delay_ms\":N,"
                        "\"retry_after\":seconds,\"path_prefix\":\"/com/...\"}");
        return;
    }
    s->failure = plan;
    cJSON *document = cJSON_CreateObject();
    cJSON *status =
        plan.status == 0 ? cJSON_CreateString("timeout") : cJSON_CreateNumber(plan.status);
    if (status == NULL || !cJSON_AddItemToObject(document, "status", status)) {
        cJSON_Delete(status);
        status = NULL;
    }
    double count = plan.remaining > 0 ? (double)plan.remaining : 0;
    if (status == NULL || cJSON_AddNumberToObject(document, "count", count) == NULL ||
        cJSON_AddNumberToObject(document, "delay_ms", (double)plan.delay_ms) == NULL ||
        cJSON_AddStringToObject(document, "path_prefix", plan.path_prefix) == NULL) {
        cJSON_Delete(document);
        document = NULL;
    }
    sim_admin_reply_object(r, 200, document);
}

static void admin_buckets(sim *s, request *r, const cJSON *body)
{
    sim_org *org = sim_target_org(s, r, body);
    if (org == NULL)
        return;
    const cJSON *used = cJSON_GetObjectItemCaseSensitive(body, "used");
    if (!cJSON_IsNumber(used) || used->valuedouble < 0 ||
        used->valuedouble > s->settings.bucket_size) {
        sim_admin_error(r, 400, "expected {\"used\":N} with N from 0 to the bucket size");
        return;
    }
    sim_bucket_set(&org->bucket, sim_now(), used->valuedouble);
    char text[128];
    snprintf(text, sizeof text, "{\"org_id\":%lld,\"used\":%g,\"size\":%g}", org->id,
             used->valuedouble, s->settings.bucket_size);
    sim_reply(r, 200, "", text);
}

/* One shop's bucket as it is now, and what it let through and refused. */
static cJSON *bucket_document(const sim *s, sim_org *org)
{
    double now = sim_now();
    const sim_bucket_counts *counts = &org->bucket_counts;
    cJSON *document = cJSON_CreateObject();
    int complete =
        cJSON_AddNumberToObject(document, "org_id", (double)org->id) != NULL &&
        cJSON_AddNumberToObject(
            document, "used", sim_bucket_shown(&org->bucket, now, s->settings.drain_per_second)) !=
            NULL &&
        cJSON_AddNumberToObject(document, "size", s->settings.bucket_size) != NULL &&
        cJSON_AddNumberToObject(document, "admitted", (double)counts->admitted) != NULL &&
        cJSON_AddNumberToObject(document, "refused", (double)counts->refused) != NULL &&
        cJSON_AddNumberToObject(document, "max_used", ceil(counts->max_level - 1e-9)) != NULL;
    cJSON *seconds = cJSON_AddArrayToObject(document, "per_second");
    int used = sim_bucket_seconds_used(counts, now);
    for (int i = 0; complete && seconds != NULL && i < used; i++)
        complete = cJSON_AddItemToArray(seconds, cJSON_CreateNumber(counts->per_second[i]));
    cJSON *recent = cJSON_AddArrayToObject(document, "recent");
    long long first =
        counts->admitted > SIM_BUCKET_RECENT ? counts->admitted - SIM_BUCKET_RECENT : 0;
    for (long long i = first; complete && recent != NULL && i < counts->admitted; i++) {
        const sim_bucket_call *call = &counts->recent[i % SIM_BUCKET_RECENT];
        cJSON *item = cJSON_CreateObject();
        complete = item != NULL && cJSON_AddStringToObject(item, "path", call->path) != NULL &&
                   cJSON_AddNumberToObject(item, "used", call->used) != NULL &&
                   cJSON_AddItemToArray(recent, item);
        if (!complete)
            cJSON_Delete(item);
    }
    if (!complete || seconds == NULL || recent == NULL) {
        cJSON_Delete(document);
        return NULL;
    }
    return document;
}

/* GET /sim/buckets: {"buckets":[{"org_id","used","size","admitted",
 * "refused","max_used","per_second":[calls admitted in each second after
 * the first]}]} */
static void admin_buckets_read(sim *s, request *r, const cJSON *body)
{
    cJSON *document = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(document, "buckets");
    int complete = list != NULL;
    for (size_t i = 0; complete && i < s->store.org_count; i++) {
        cJSON *bucket = bucket_document(s, s->store.orgs[i]);
        complete = bucket != NULL && cJSON_AddItemToArray(list, bucket);
        if (!complete)
            cJSON_Delete(bucket);
    }
    if (!complete) {
        cJSON_Delete(document);
        document = NULL;
    }
    sim_admin_reply_object(r, 200, document);
}

/* A reset flag: absent means true. */
static int wanted(const cJSON *body, const char *name)
{
    const cJSON *flag = cJSON_GetObjectItemCaseSensitive(body, name);
    return flag == NULL || cJSON_IsTrue(flag);
}

static void admin_reset(sim *s, request *r, const cJSON *body)
{
    if (wanted(body, "buckets"))
        for (size_t i = 0; i < s->store.org_count; i++)
            sim_bucket_set(&s->store.orgs[i]->bucket, sim_now(), 0);
    if (wanted(body, "failures"))
        memset(&s->failure, 0, sizeof s->failure);
    if (wanted(body, "counters")) {
        sim_counters_clear(&s->counters);
        for (size_t i = 0; i < s->store.org_count; i++)
            memset(&s->store.orgs[i]->bucket_counts, 0, sizeof s->store.orgs[i]->bucket_counts);
    }
    sim_reply(r, 200, "", "{\"reset\":true}");
}

/* ---- dispatch --------------------------------------------------------- */

typedef struct admin_route {
    const char *method;
    const char *path;
    sim_admin_handler handle;
} admin_route;

static const admin_route admin_routes[] = {
    /* Reading. */
    {"GET", "/sim/health", admin_health},
    {"GET", "/sim/counters", admin_counters},
    {"GET", "/sim/buckets", admin_buckets_read},
    /* Data. */
    {"POST", "/sim/tokens", admin_tokens},
    {"POST", "/sim/tokens/revoke", admin_revoke},
    {"POST", "/sim/users", admin_users},
    {"POST", "/sim/orders", admin_orders},
    {"POST", "/sim/customers", admin_customers},
    {"POST", "/sim/generate", sim_admin_generate},
    {"POST", "/sim/touch", sim_admin_touch},
    /* Behaviour. */
    {"POST", "/sim/failures", admin_failures},
    {"POST", "/sim/buckets", admin_buckets},
    {"POST", "/sim/reset", admin_reset},
    /* Accounts and webhooks (admin_accounts.c). */
    {"POST", "/sim/apps", sim_admin_apps_put},
    {"POST", "/sim/keys/rotate", sim_admin_keys_rotate},
    {"GET", "/sim/config", sim_admin_config_get},
    {"POST", "/sim/config", sim_admin_config_set},
    {"POST", "/sim/tokens/expire", sim_admin_tokens_expire},
    {"POST", "/sim/refresh/revoke", sim_admin_refresh_revoke},
    {"POST", "/sim/fire", sim_admin_fire},
};

/* The request's JSON object body; an empty body is {}. NULL after
 * answering the error. */
static cJSON *read_body(request *r)
{
    enum request_body_result read = request_read_body(r, ADMIN_MAX_BODY);
    if (read != REQUEST_BODY_OK) {
        sim_admin_error(r, read == REQUEST_BODY_TOO_LARGE ? 413 : 400, "cannot read the body");
        return NULL;
    }
    if (r->body.length == 0)
        return cJSON_CreateObject();
    cJSON *body = cJSON_ParseWithLength(r->body.data, r->body.length);
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        sim_admin_error(r, 400, "the body must be a JSON object");
        return NULL;
    }
    return body;
}

void sim_handle_admin(sim *s, request *r)
{
    if (strcmp(r->path, "/sim/portal") == 0) {
        sim_handle_portal(s, r);
        return;
    }
    if (strncmp(r->path, "/sim/apps/", strlen("/sim/apps/")) == 0) {
        if (strcmp(r->method, "GET") == 0)
            sim_admin_apps_get(s, r, r->path + strlen("/sim/apps/"));
        else
            sim_admin_error(r, 405, "method not allowed");
        return;
    }
    int path_known = 0;
    for (size_t i = 0; i < sizeof admin_routes / sizeof admin_routes[0]; i++) {
        if (strcmp(admin_routes[i].path, r->path) != 0)
            continue;
        path_known = 1;
        if (strcmp(admin_routes[i].method, r->method) != 0)
            continue;
        cJSON *body = read_body(r);
        if (body != NULL)
            admin_routes[i].handle(s, r, body);
        cJSON_Delete(body);
        return;
    }
    if (path_known)
        sim_admin_error(r, 405, "method not allowed");
    else
        sim_admin_error(r, 404, "no such simulator route");
}
