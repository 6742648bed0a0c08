/*
 * GET /api/haravan/status: what the settings page shows: every shop the
 * connector knows (never their tokens), each with its state, its webhook
 * subscriptions, its event counts and its chart (the last 24 hours of
 * events per hour by outcome); and, as before several shops could be
 * connected, the fields of one shop at the top (docs/CONTRACT.md).
 *
 *   {"shop": {...} | null,              the connected shop updated last, else the one
 *                                       updated last that needs reconnecting
 *    "subscriptions": [...], "subscriptions_unavailable": bool,   that shop's
 *    "events": {"pending":N,...},       every shop together
 *    "shops": [{"org_id","name","scopes","status","status_reason","token_expires_at",
 *               "connected_at","disconnected_at","subscriptions","subscriptions_unavailable",
 *               "events":{...},"chart":{"start","hours":[{"done","ignored","dead"} x 24]}}]}
 *
 * Shops come connected first, then needing a reconnect, then
 * disconnected; within each, updated last first. The subscriptions come
 * from Haravan, at most once a minute per worker and shop and in at most
 * 3 s (handlers.h); a disconnected shop's are not asked for (it has no
 * usable token), nor a shop's that needs reconnecting. Once Haravan has not answered in time for
 * one shop, the others are not asked in this request, so a slow Haravan costs the page 3 s, not 3 s
 * a shop: those shops say "subscriptions_unavailable": true.
 *
 * The counts and the chart are two GROUP BYs of lib/inbox/view.c for all
 * shops at once; the chart's hours are whole UTC hours, the last being
 * the current one.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "admin.h"
#include "handlers.h"
#include "haravan/catchup.h"
#include "inbox/view.h"

#define CHART_HOURS 24

/* Every status of hv_events (sql/connector/001_intake.sql), shown even at zero so
 * the page need not know which exist. */
static const char *const event_statuses[] = {"pending", "processing", "done",
                                             "ignored", "dead",       NULL};
/* The outcomes the chart draws. */
static const char *const chart_outcomes[] = {"done", "ignored", "dead", NULL};

#define SHOP_COLUMNS 8
static const char *const shop_keys[SHOP_COLUMNS] = {
    "org_id",           "name",         "scopes",          "status",
    "token_expires_at", "connected_at", "disconnected_at", "status_reason"};

static PGresult *read_shops(worker *w)
{
    return db_query(
        &w->database, DB_IDEMPOTENT,
        "SELECT org_id, name, scopes, status,"
        " to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " to_char(connected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " to_char(disconnected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " status_reason FROM hv_shops"
        " ORDER BY status = 'connected' DESC, status = 'needs_reconnect' DESC,"
        " updated_at DESC, org_id",
        0, NULL, NULL, NULL);
}

/* The columns of row `row` of read_shops() as an object; `full` adds the
 * fields the old top-level "shop" did not have. */
static cJSON *shop_object(const PGresult *shops, int row, int full)
{
    cJSON *shop = cJSON_CreateObject();
    int columns = full ? SHOP_COLUMNS : 5;
    for (int column = 0; shop != NULL && column < columns; column++) {
        cJSON *added =
            PQgetisnull(shops, row, column)
                ? cJSON_AddNullToObject(shop, shop_keys[column])
                : cJSON_AddStringToObject(shop, shop_keys[column], PQgetvalue(shops, row, column));
        if (added == NULL) {
            cJSON_Delete(shop);
            shop = NULL;
        }
    }
    return shop;
}

/* {"pending":N,...} from inbox_count_by_org_status' rows (org_id,
 * status, count): shop `org_id`'s, or every shop's when it is NULL. */
static cJSON *count_object(const PGresult *counts, const char *org_id)
{
    cJSON *events = cJSON_CreateObject();
    for (size_t i = 0; events != NULL && event_statuses[i] != NULL; i++) {
        double count = 0;
        for (int row = 0; row < PQntuples(counts); row++)
            if ((org_id == NULL || strcmp(PQgetvalue(counts, row, 0), org_id) == 0) &&
                strcmp(PQgetvalue(counts, row, 1), event_statuses[i]) == 0)
                count += strtod(PQgetvalue(counts, row, 2), NULL);
        if (cJSON_AddNumberToObject(events, event_statuses[i], count) == NULL) {
            cJSON_Delete(events);
            events = NULL;
        }
    }
    return events;
}

/* The chart's first hour: the start of the hour CHART_HOURS - 1 before
 * the current one, as text for PostgreSQL and for the page. */
static void chart_start(char *out, size_t size)
{
    time_t now = time(NULL);
    time_t start = now - now % 3600 - (CHART_HOURS - 1) * 3600;
    struct tm utc;
    gmtime_r(&start, &utc);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &utc);
}

/* {"start","hours":[{"done":N,"ignored":N,"dead":N} x CHART_HOURS]} of
 * shop `org_id` from inbox_hourly_outcomes' rows. */
static cJSON *chart_object(const PGresult *hourly, const char *org_id, const char *start)
{
    double counts[CHART_HOURS][3] = {{0}};
    for (int row = 0; row < PQntuples(hourly); row++) {
        int hour = atoi(PQgetvalue(hourly, row, 1));
        if (strcmp(PQgetvalue(hourly, row, 0), org_id) != 0 || hour < 0 || hour >= CHART_HOURS)
            continue;
        for (int o = 0; chart_outcomes[o] != NULL; o++)
            if (strcmp(PQgetvalue(hourly, row, 2), chart_outcomes[o]) == 0)
                counts[hour][o] = strtod(PQgetvalue(hourly, row, 3), NULL);
    }
    cJSON *chart = cJSON_CreateObject();
    cJSON *hours = chart != NULL ? cJSON_AddArrayToObject(chart, "hours") : NULL;
    int ok = hours != NULL && cJSON_AddStringToObject(chart, "start", start) != NULL;
    for (int hour = 0; ok && hour < CHART_HOURS; hour++) {
        cJSON *item = cJSON_CreateObject();
        ok = item != NULL && cJSON_AddItemToArray(hours, item);
        if (!ok)
            cJSON_Delete(item);
        for (int o = 0; ok && chart_outcomes[o] != NULL; o++)
            ok = cJSON_AddNumberToObject(item, chart_outcomes[o], counts[hour][o]) != NULL;
    }
    if (!ok) {
        cJSON_Delete(chart);
        chart = NULL;
    }
    return chart;
}

/* What a request's status is built from: read once, shared by every shop. */
typedef struct status_data {
    PGresult *shops;
    PGresult *counts;
    PGresult *hourly;
    char start[32];
    int haravan_slow; /* Haravan did not answer in time for a shop: ask no more */
} status_data;

static void status_data_free(status_data *d)
{
    PQclear(d->shops);
    PQclear(d->counts);
    PQclear(d->hourly);
}

static int status_data_read(worker *w, status_data *d)
{
    memset(d, 0, sizeof *d);
    chart_start(d->start, sizeof d->start);
    d->shops = read_shops(w);
    d->counts = d->shops != NULL ? inbox_count_by_org_status(&w->database) : NULL;
    d->hourly = d->counts != NULL ? inbox_hourly_outcomes(&w->database, d->start) : NULL;
    return d->hourly != NULL ? 0 : -1;
}

/* Adds "subscriptions" and "subscriptions_unavailable" of shop `row`. */
static int add_subscriptions(worker *w, status_data *d, int row, cJSON *to)
{
    int unavailable = 0;
    cJSON *list = NULL;
    if (strcmp(PQgetvalue(d->shops, row, 3), "connected") != 0) {
        list = cJSON_CreateArray(); /* no usable token to ask with */
    } else {
        list =
            webhooks_subscriptions(w, PQgetvalue(d->shops, row, 0), !d->haravan_slow, &unavailable);
        d->haravan_slow |= unavailable;
    }
    if (list == NULL || !cJSON_AddItemToObject(to, "subscriptions", list)) {
        cJSON_Delete(list);
        return -1;
    }
    return cJSON_AddBoolToObject(to, "subscriptions_unavailable", unavailable) != NULL ? 0 : -1;
}

static int add_shops(worker *w, status_data *d, cJSON *root)
{
    cJSON *shops = cJSON_AddArrayToObject(root, "shops");
    int ok = shops != NULL;
    for (int row = 0; ok && row < PQntuples(d->shops); row++) {
        const char *org_id = PQgetvalue(d->shops, row, 0);
        cJSON *shop = shop_object(d->shops, row, 1);
        ok = shop != NULL && cJSON_AddItemToArray(shops, shop);
        if (!ok) {
            cJSON_Delete(shop);
            break;
        }
        ok = add_subscriptions(w, d, row, shop) == 0 &&
             cJSON_AddItemToObject(shop, "events", count_object(d->counts, org_id)) &&
             cJSON_AddItemToObject(shop, "chart", chart_object(d->hourly, org_id, d->start));
    }
    return ok ? 0 : -1;
}

/* The old top-level fields: the first shop in the order above unless it
 * is disconnected (a disconnected shop is no shop). */
static int add_top_shop(worker *w, status_data *d, cJSON *root)
{
    int has_shop =
        PQntuples(d->shops) > 0 && strcmp(PQgetvalue(d->shops, 0, 3), "disconnected") != 0;
    if (!has_shop)
        return cJSON_AddNullToObject(root, "shop") != NULL &&
                       cJSON_AddArrayToObject(root, "subscriptions") != NULL &&
                       cJSON_AddBoolToObject(root, "subscriptions_unavailable", 0) != NULL
                   ? 0
                   : -1;
    cJSON *shop = shop_object(d->shops, 0, 0);
    if (shop == NULL || !cJSON_AddItemToObject(root, "shop", shop)) {
        cJSON_Delete(shop);
        return -1;
    }
    return add_subscriptions(w, d, 0, root);
}

void handle_status(worker *w, request *r)
{
    if (!admin_require(w, r, 0))
        return;
    status_data d;
    memset(&d, 0, sizeof d);
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL && status_data_read(w, &d) == 0 && add_top_shop(w, &d, root) == 0 &&
             cJSON_AddItemToObject(root, "events", count_object(d.counts, NULL)) &&
             add_shops(w, &d, root) == 0 &&
             cJSON_AddItemToObject(root, "catchup", hv_catchup_status_json(&w->database, NULL));
    char *body = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    status_data_free(&d);
    if (body == NULL) {
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot read the status now; please retry");
        return;
    }
    r->outcome = "shown";
    request_reply_json(r, 200, body);
    free(body);
}
