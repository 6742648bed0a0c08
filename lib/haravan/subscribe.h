/*
 * hv_subscribe: a shop's webhook subscription at Haravan's webhook service
 * (docs/HARAVAN.md section 2): {HARAVAN_WEBHOOK_URL}/api/subscribe with the
 * shop's token, POST to subscribe (no body, as Haravan's sample sends
 * none), GET to list, DELETE to unsubscribe (disconnecting a shop).
 *
 * The callback URL, verify token and topics are the app's, set once in
 * Haravan's partner dashboard; before answering a POST, Haravan checks the
 * callback with the verify-token handshake (handler_webhook.c answers it).
 *
 * A 401 means the shop's token expired or was revoked early: the token is
 * refreshed once (haravan/token_refresh.h) and the call made once more.
 * Every other answer is handed back as it came, for the caller to pass on.
 *
 * Ownership: the context's members are borrowed; the response belongs to
 * the caller (hv_http_response_free).
 */
#ifndef HARAVAN_HARAVAN_SUBSCRIBE_H
#define HARAVAN_HARAVAN_SUBSCRIBE_H

#include <stddef.h>

#include "core/db.h"
#include "haravan/http.h"
#include "haravan/token_refresh.h"

#define HV_SUBSCRIBE_PATH "/api/subscribe"

typedef struct hv_subscribe_context {
    db *database;
    const unsigned char *master_key;
    hv_http *http;
    hv_token_refresher *refresher; /* NULL: no refresh on 401 */
    const char *webhook_url;       /* HARAVAN_WEBHOOK_URL */
    long timeout_ms;               /* 0: the HTTP client's; else a shorter bound */
} hv_subscribe_context;

typedef enum hv_subscribe_status {
    HV_SUBSCRIBE_ANSWERED = 0, /* Haravan answered: see response->status */
    HV_SUBSCRIBE_NO_TOKEN,     /* the shop has no usable token (not connected, reconnect) */
    HV_SUBSCRIBE_FAILED,       /* no answer (network, timeout) or a local failure */
} hv_subscribe_status;

/* `method` "GET", "POST" or "DELETE" (unsubscribe) for shop `org_id`. `error` is filled unless the
 * status is HV_SUBSCRIBE_ANSWERED. */
hv_subscribe_status hv_subscribe_call(const hv_subscribe_context *context, const char *org_id,
                                      const char *method, hv_http_response *response, char *error,
                                      size_t error_size);

#endif
