/*
 * POST /api/haravan/disconnect?org_id=ORG (admin, CSRF): "Ngắt kết nối"
 * on the settings page (docs/CONNECT.md, "A shop's life").
 *
 * In this order:
 *   1. the shop's webhooks are unsubscribed at Haravan (DELETE
 *      /api/subscribe with the shop's token, refreshed once on a 401);
 *   2. only once Haravan has said yes (2xx): the shop's tokens are deleted
 *      and it is marked disconnected (hv_shop_disconnect). Its CRM rows
 *      stay.
 * Unsubscribing needs the token, so the token goes last: if Haravan
 * refuses or does not answer, the answer is 502 with what Haravan said
 * (as POST /api/haravan/webhooks passes it on) and nothing has changed;
 * the merchant may try again. Deleting the tokens first would leave
 * webhooks live that nobody could ever unsubscribe with this app.
 *
 * A shop that is not connected with a usable token (unknown, disconnected
 * already, or needing a reconnect) is a 409 {"error":"not_connected"}:
 * its webhooks cannot be unsubscribed without a token, so it must be
 * reconnected first (or the app removed on Haravan, whose app/uninstalled
 * disconnects it: haravan/uninstall.h). The shop must be named: without
 * org_id the answer is 400, never "the shop updated last".
 */
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "admin.h"
#include "core/log.h"
#include "handlers.h"
#include "haravan/shop.h"
#include "haravan/subscribe.h"

#define DISCONNECT_REASON "disconnected on the settings page"

/* Step 2, once Haravan unsubscribed the webhooks. */
static void forget_tokens(worker *w, request *r, const char *org_id)
{
    char error[512] = "";
    int changed =
        hv_shop_disconnect(&w->database, org_id, DISCONNECT_REASON, NULL, error, sizeof error);
    if (changed < 0) {
        log_message("error", "disconnect: shop %s: webhooks unsubscribed, tokens not deleted: %s",
                    org_id, error);
        r->outcome = "database unavailable";
        request_reply_error(r, 503,
                            "the webhooks are unsubscribed, but the shop could not be"
                            " marked disconnected now; please retry");
        return;
    }
    cJSON *document = cJSON_CreateObject();
    char *body = NULL;
    if (document != NULL && cJSON_AddStringToObject(document, "org_id", org_id) != NULL &&
        cJSON_AddStringToObject(document, "status", "disconnected") != NULL)
        body = cJSON_PrintUnformatted(document);
    cJSON_Delete(document);
    r->outcome = changed == 1 ? "disconnected" : "disconnected already";
    if (body == NULL)
        request_reply_error(r, 500, "out of memory");
    else
        request_reply_json(r, 200, body);
    cJSON_free(body);
}

/* The shop the request names when it is connected with a token: 1 with
 * `org_id` filled, else 0 after replying. */
static int connected_shop(worker *w, request *r, char org_id[HV_SHOP_ORG_ID_SIZE])
{
    char wanted[HV_SHOP_ORG_ID_SIZE];
    char error[512] = "";
    if (webhooks_requested_org(r, wanted, sizeof wanted) == NULL) {
        r->outcome = "bad query";
        request_reply_error(r, 400, "org_id must name the shop to disconnect");
        return 0;
    }
    int picked = hv_shop_pick(&w->database, wanted, org_id, error, sizeof error);
    if (picked < 0) {
        log_message("error", "disconnect: %s", error);
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot read the shop now; please retry");
    } else if (picked == 0) {
        r->outcome = "not connected";
        request_reply_json(r, 409, "{\"error\":\"not_connected\"}");
    }
    return picked == 1;
}

void handle_disconnect(worker *w, request *r)
{
    if (!admin_require(w, r, 1))
        return;
    char org_id[HV_SHOP_ORG_ID_SIZE];
    if (!connected_shop(w, r, org_id))
        return;
    snprintf(r->org_id, sizeof r->org_id, "%s", org_id);
    char error[512] = "";
    hv_subscribe_context context = webhooks_subscribe_context(w);
    hv_http_response response;
    hv_subscribe_status status =
        hv_subscribe_call(&context, org_id, "DELETE", &response, error, sizeof error);
    /* Whatever Haravan did, this worker's copy of the list may be stale. */
    subscriptions_cache_clear(&w->subscriptions);
    if (status == HV_SUBSCRIBE_NO_TOKEN) {
        r->outcome = "not connected";
        request_reply_json(r, 409, "{\"error\":\"not_connected\"}");
    } else if (status != HV_SUBSCRIBE_ANSWERED) {
        log_message("error", "disconnect: DELETE %s: %s", HV_SUBSCRIBE_PATH, error);
        r->outcome = "haravan unreachable";
        request_reply_json(r, 502, "{\"error\":\"haravan\",\"status\":0,\"body\":null}");
    } else if (response.status < 200 || response.status > 299) {
        r->outcome = "refused by haravan";
        webhooks_reply_refused(r, response.status, &response.body);
    } else {
        forget_tokens(w, r, org_id);
    }
    hv_http_response_free(&response);
}
