/*
 * GET /api/haravan/status: what the settings page shows at the top: the
 * connected shop (never its tokens), the webhook subscriptions, and how
 * many events are in each state.
 *
 * The subscriptions come from Haravan, at most once a minute per worker
 * and in at most 3 s (handlers.h); when Haravan does not say in time, the
 * rest of the status is answered anyway with "subscriptions_unavailable":
 * true and an empty list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "admin.h"
#include "handlers.h"
#include "haravan/catchup.h"
#include "inbox/view.h"

/* Every status of hv_events (sql/connector/001_intake.sql), shown even at zero so
 * the page need not know which exist. */
static const char *const event_statuses[] = {"pending", "processing", "done",
                                             "ignored", "dead",       NULL};

/* The shop the connector works for: the connected one if any, else the
 * most recent that needs reconnecting; a disconnected shop is no shop. */
static int add_shop(worker *w, cJSON *root)
{
    PGresult *result =
        db_query(&w->database, DB_IDEMPOTENT,
                 "SELECT org_id, name, scopes, status,"
                 " to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                 " FROM hv_shops WHERE status IN ('connected', 'needs_reconnect')"
                 " ORDER BY status = 'connected' DESC, updated_at DESC LIMIT 1",
                 0, NULL, NULL, NULL);
    if (result == NULL)
        return -1;
    int ok = 1;
    if (PQntuples(result) == 0) {
        ok = cJSON_AddNullToObject(root, "shop") != NULL;
    } else {
        static const char *const keys[] = {"org_id", "name", "scopes", "status",
                                           "token_expires_at"};
        cJSON *shop = cJSON_AddObjectToObject(root, "shop");
        ok = shop != NULL;
        for (int column = 0; ok && column < 5; column++)
            ok = (PQgetisnull(result, 0, column)
                      ? cJSON_AddNullToObject(shop, keys[column])
                      : cJSON_AddStringToObject(shop, keys[column],
                                                PQgetvalue(result, 0, column))) != NULL;
    }
    PQclear(result);
    return ok ? 0 : -1;
}

static int add_event_counts(worker *w, cJSON *root)
{
    PGresult *result = inbox_count_by_status(&w->database);
    if (result == NULL)
        return -1;
    cJSON *events = cJSON_AddObjectToObject(root, "events");
    int ok = events != NULL;
    for (size_t i = 0; ok && event_statuses[i] != NULL; i++) {
        double count = 0;
        for (int row = 0; row < PQntuples(result); row++)
            if (strcmp(PQgetvalue(result, row, 0), event_statuses[i]) == 0)
                count = strtod(PQgetvalue(result, row, 1), NULL);
        ok = cJSON_AddNumberToObject(events, event_statuses[i], count) != NULL;
    }
    PQclear(result);
    return ok ? 0 : -1;
}

void handle_status(worker *w, request *r)
{
    if (!admin_require(w, r, 0))
        return;
    cJSON *root = cJSON_CreateObject();
    /* Subscriptions live at Haravan (GET /api/subscribe with the shop's
     * token); no table of CONNECT.md holds them, so handler_webhooks.c
     * asks for them. */
    int unavailable = 0;
    int ok =
        root != NULL && add_shop(w, root) == 0 &&
        cJSON_AddItemToObject(root, "subscriptions", webhooks_subscriptions(w, &unavailable)) &&
        cJSON_AddBoolToObject(root, "subscriptions_unavailable", unavailable) != NULL &&
        add_event_counts(w, root) == 0 &&
        cJSON_AddItemToObject(root, "catchup", hv_catchup_status_json(&w->database, NULL));
    char *body = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (body == NULL) {
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot read the status now; please retry");
        return;
    }
    r->outcome = "shown";
    request_reply_json(r, 200, body);
    free(body);
}
