/*
 * routes_api: Haravan's REST API under /com/, as docs/HARAVAN.md section 3
 * describes it. See sim.h.
 *
 * Every call goes through the same gate, in the order a client sees its
 * effects: an injected failure (/sim/failures), then the Bearer token
 * (401), then the shop's leaky bucket (429, not counted), then the route
 * (404), the token's scope (403) and the parameters (400). Every answer
 * from the bucket on carries X-Haravan-Api-Call-Limit.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bucket.h"
#include "core/form.h"
#include "listing.h"
#include "reply.h"
#include "sim.h"

#define UNAUTHORIZED_MESSAGE                                                                       \
    "[API] Invalid API key or access token (unrecognized login or wrong password)"

typedef struct resource {
    const char *plural;   /* path segment and list wrapper: "orders" */
    const char *singular; /* wrapper of one record: "order" */
    const char *scope;    /* what the token must have been granted */
    unsigned features;    /* listing parameters beyond the common ones */
} resource;

static const resource users = {"users", "user", "com.read_shop", 0};
static const resource orders = {"orders", "order", "com.read_orders", SIM_LISTING_STATUS};
static const resource customers = {"customers", "customer", "com.read_customers", 0};
static const resource shop = {"shop", "shop", "com.read_shop", 0};

enum route_kind {
    ROUTE_SHOP,         /* shop.json */
    ROUTE_LIST,         /* orders.json */
    ROUTE_COUNT,        /* orders/count.json */
    ROUTE_SEARCH,       /* customers/search.json */
    ROUTE_ONE,          /* orders/{id}.json */
    ROUTE_TRANSACTIONS, /* orders/{id}/transactions.json */
};

typedef struct api_route {
    enum route_kind kind;
    const resource *resource;
    long long id;
} api_route;

/* ---- routes ----------------------------------------------------------- */

static const resource *resource_named(const char *name, size_t length)
{
    static const resource *const all[] = {&users, &orders, &customers};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strlen(all[i]->plural) == length && strncmp(all[i]->plural, name, length) == 0)
            return all[i];
    return NULL;
}

/* The length of `segment` without ".json"; 0 when it does not end so. */
static size_t json_stem(const char *segment)
{
    size_t length = strlen(segment);
    if (length <= 5 || strcmp(segment + length - 5, ".json") != 0)
        return 0;
    return length - 5;
}

/* A record id: 1 to 18 digits, no leading zero. */
static int parse_id(const char *text, size_t length, long long *id)
{
    if (length == 0 || length > 18 || text[0] == '0' || strspn(text, "0123456789") < length)
        return -1;
    *id = strtoll(text, NULL, 10);
    return 0;
}

static int route_second_segment(const char *segment, api_route *route)
{
    size_t stem = json_stem(segment);
    if (strcmp(segment, "count.json") == 0 && route->resource != &users) {
        route->kind = ROUTE_COUNT;
        return 0;
    }
    if (strcmp(segment, "search.json") == 0 && route->resource == &customers) {
        route->kind = ROUTE_SEARCH;
        return 0;
    }
    route->kind = ROUTE_ONE;
    return stem > 0 ? parse_id(segment, stem, &route->id) : -1;
}

/* Splits `path` (after /com/) into at most three segments. */
static int split_path(const char *path, char *copy, size_t size, char *segments[3])
{
    if (strlen(path) >= size)
        return -1;
    strcpy(copy, path);
    int count = 0;
    for (char *cursor = copy; cursor != NULL; count++) {
        if (count == 3)
            return -1;
        segments[count] = cursor;
        cursor = strchr(cursor, '/');
        if (cursor != NULL)
            *cursor++ = '\0';
        if (segments[count][0] == '\0')
            return -1;
    }
    return count;
}

static int parse_route(const char *path, api_route *route)
{
    char copy[256];
    char *segments[3];
    int count = split_path(path, copy, sizeof copy, segments);
    memset(route, 0, sizeof *route);
    if (count == 1 && strcmp(segments[0], "shop.json") == 0) {
        route->kind = ROUTE_SHOP;
        route->resource = &shop;
        return 0;
    }
    if (count == 1) {
        route->kind = ROUTE_LIST;
        route->resource = resource_named(segments[0], json_stem(segments[0]));
        return route->resource != NULL ? 0 : -1;
    }
    if (count < 2)
        return -1;
    route->resource = resource_named(segments[0], strlen(segments[0]));
    if (route->resource == NULL)
        return -1;
    if (count == 2)
        return route_second_segment(segments[1], route);
    route->kind = ROUTE_TRANSACTIONS;
    if (route->resource != &orders || strcmp(segments[2], "transactions.json") != 0)
        return -1;
    return parse_id(segments[1], strlen(segments[1]), &route->id);
}

static cJSON *records_of(sim_org *org, const resource *kind)
{
    if (kind == &users)
        return org->users;
    if (kind == &orders)
        return org->orders;
    return org->customers;
}

/* ---- the gate --------------------------------------------------------- */

static int failure_applies(const sim_failure_plan *plan, const char *path)
{
    return plan->armed && plan->remaining != 0 &&
           strncmp(path, plan->path_prefix, strlen(plan->path_prefix)) == 0;
}

int sim_inject_failure(sim *s, request *r)
{
    sim_failure_plan *plan = &s->failure;
    if (!failure_applies(plan, r->path))
        return 0;
    if (plan->remaining > 0)
        plan->remaining--;
    int status = plan->status;
    if (status == 0) {
        r->outcome = "stalled";
        sim_sleep_ms(s, plan->delay_ms);
        return 0;
    }
    r->outcome = "injected";
    char headers[160] = "";
    if (status == 429) {
        char seconds[32];
        sim_bucket_format_seconds(plan->retry_after_seconds, seconds, sizeof seconds);
        snprintf(headers, sizeof headers,
                 "X-Haravan-Api-Call-Limit: %.0f/%.0f\r\nRetry-After: %s\r\n",
                 s->settings.bucket_size, s->settings.bucket_size, seconds);
    }
    sim_reply_errors(r, status, headers, sim_reason_phrase(status));
    return 1;
}

/* Takes a call from the org's bucket and writes the call-limit header.
 * Returns 1 when admitted; otherwise answers 429 and returns 0. */
static int admit(sim *s, sim_org *org, request *r, char *limit_header, size_t size)
{
    double now = sim_now();
    double retry_after = 0;
    const sim_settings *settings = &s->settings;
    int admitted = sim_bucket_take(&org->bucket, now, settings->bucket_size,
                                   settings->drain_per_second, &retry_after);
    sim_bucket_count(&org->bucket_counts, now, admitted, org->bucket.level);
    int shown = sim_bucket_shown(&org->bucket, now, settings->drain_per_second);
    snprintf(limit_header, size, "X-Haravan-Api-Call-Limit: %d/%.0f\r\n", shown,
             settings->bucket_size);
    if (admitted) {
        sim_bucket_counts *counts = &org->bucket_counts;
        sim_bucket_call *call = &counts->recent[(counts->admitted - 1) % SIM_BUCKET_RECENT];
        snprintf(call->path, sizeof call->path, "%s", r->path);
        call->used = shown;
        return 1;
    }
    char seconds[32];
    char headers[256];
    char message[160];
    sim_bucket_format_seconds(retry_after, seconds, sizeof seconds);
    snprintf(headers, sizeof headers, "%sRetry-After: %s\r\n", limit_header, seconds);
    snprintf(message, sizeof message,
             "Exceeded %g calls per second for api client. Reduce request rates to resume "
             "uninterrupted service.",
             settings->drain_per_second);
    r->outcome = "rate_limited";
    sim_reply_errors(r, 429, headers, message);
    return 0;
}

/* ---- answers ---------------------------------------------------------- */

/* {"errors":{"parameter":"message"}}, as Haravan names a bad parameter. */
static void reply_bad_parameter(request *r, const char *headers, const char *parameter,
                                const char *message)
{
    cJSON *document = cJSON_CreateObject();
    cJSON *errors = cJSON_AddObjectToObject(document, "errors");
    if (errors == NULL || cJSON_AddStringToObject(errors, parameter, message) == NULL) {
        cJSON_Delete(document);
        sim_reply_errors(r, 400, headers, message);
        return;
    }
    r->outcome = "bad_parameter";
    sim_reply_document(r, 400, headers, document);
    cJSON_Delete(document);
}

static void serve_listing(request *r, const char *headers, const api_route *route,
                          const cJSON *records, const form *query)
{
    sim_listing listing;
    char parameter[64];
    char message[200];
    unsigned features = route->resource->features;
    if (route->kind == ROUTE_SEARCH)
        features |= SIM_LISTING_SEARCH;
    if (sim_listing_parse(&listing, query, features, parameter, sizeof parameter, message,
                          sizeof message) != 0) {
        reply_bad_parameter(r, headers, parameter, message);
        return;
    }
    if (route->kind == ROUTE_COUNT) {
        cJSON *count = cJSON_CreateNumber((double)sim_listing_count(&listing, records));
        sim_reply_wrapped(r, headers, "count", count);
        return;
    }
    sim_reply_wrapped(r, headers, route->resource->plural, sim_listing_page(&listing, records));
}

static void serve_record(request *r, const char *headers, const api_route *route, sim_org *org,
                         const form *query)
{
    const cJSON *record = route->kind == ROUTE_SHOP
                              ? org->shop
                              : sim_record_find(records_of(org, route->resource), route->id);
    if (record == NULL) {
        sim_reply_errors(r, 404, headers, "Not Found");
        return;
    }
    if (route->kind == ROUTE_TRANSACTIONS) {
        const cJSON *transactions = cJSON_GetObjectItemCaseSensitive(record, "transactions");
        cJSON *copy =
            cJSON_IsArray(transactions) ? cJSON_Duplicate(transactions, 1) : cJSON_CreateArray();
        sim_reply_wrapped(r, headers, "transactions", copy);
        return;
    }
    const char *fields = form_get(query, "fields");
    sim_reply_wrapped(r, headers, route->resource->singular, sim_listing_project(fields, record));
}

static void serve_route(request *r, const char *headers, const api_route *route, sim_org *org)
{
    form query;
    if (form_parse(&query, r->query, strlen(r->query)) != 0) {
        sim_reply_errors(r, 400, headers, "the query string cannot be read");
        return;
    }
    if (route->kind == ROUTE_LIST || route->kind == ROUTE_COUNT || route->kind == ROUTE_SEARCH)
        serve_listing(r, headers, route, records_of(org, route->resource), &query);
    else
        serve_record(r, headers, route, org, &query);
    form_free(&query);
}

static void refuse_scope(request *r, const char *headers, const char *scope)
{
    char message[160];
    snprintf(message, sizeof message, "[API] This action requires merchant approval for %s scope.",
             scope);
    r->outcome = "missing_scope";
    sim_reply_errors(r, 403, headers, message);
}

void sim_handle_api(sim *s, request *r)
{
    if (sim_inject_failure(s, r))
        return;
    const sim_token *token = sim_authenticate(s, r);
    if (token == NULL) {
        r->outcome = "unauthorized";
        sim_reply_errors(r, 401, "", UNAUTHORIZED_MESSAGE);
        return;
    }
    snprintf(r->org_id, sizeof r->org_id, "%lld", token->org_id);
    sim_org *org = sim_store_org(&s->store, token->org_id);
    if (org == NULL) {
        sim_reply_errors(r, 500, "", "the token's shop is missing from the simulator");
        return;
    }
    char headers[128];
    if (!admit(s, org, r, headers, sizeof headers))
        return;
    api_route route;
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        char allow[192];
        snprintf(allow, sizeof allow, "%sAllow: GET\r\n", headers);
        sim_reply_errors(r, 405, allow, "the simulator answers GET only");
    } else if (parse_route(r->path + strlen("/com/"), &route) != 0) {
        sim_reply_errors(r, 404, headers, "Not Found");
    } else if (!sim_token_has_scope(token, route.resource->scope)) {
        refuse_scope(r, headers, route.resource->scope);
    } else {
        serve_route(r, headers, &route, org);
    }
}
