/*
 * handlers: one function per route; router.c says which answers what.
 *
 * A handler replies exactly once through request_reply*() and fills the
 * request's log fields (topic, org id, event id, outcome) where they apply.
 */
#ifndef HARAVAN_FCGI_HANDLERS_H
#define HARAVAN_FCGI_HANDLERS_H

#include <cJSON.h>

#include "haravan/subscribe.h"
#include "request.h"
#include "worker.h"

void handle_health(worker *w, request *r);
void handle_webhook_handshake(worker *w, request *r);
void handle_webhook_delivery(worker *w, request *r);

/* The settings page's admin API (admin.h says who may call it). */
void handle_admin_login(worker *w, request *r);
void handle_admin_logout(worker *w, request *r);
void handle_admin_session(worker *w, request *r);
void handle_settings_get(worker *w, request *r);
void handle_settings_post(worker *w, request *r);
void handle_status(worker *w, request *r);
void handle_backfill(worker *w, request *r); /* handler_backfill.c */
void handle_events_list(worker *w, request *r);
void handle_event_replay(worker *w, request *r);

/* Connecting a shop (handler_connect.c) and its webhook subscription
 * (handler_webhooks.c); docs/CONNECT.md. */
void handle_connect(worker *w, request *r);
void handle_connect_login(worker *w, request *r);
void handle_connect_grant(worker *w, request *r);
/* Any method but POST at either callback: 405 and a page (connect_page.h). */
void handle_connect_wrong_method(worker *w, request *r);
void handle_webhooks_list(worker *w, request *r);
void handle_webhooks_subscribe(worker *w, request *r);

/* Shop `org_id`'s webhook subscriptions as Haravan lists them, for
 * GET /api/haravan/status: a JSON array (caller deletes), empty when
 * Haravan cannot say (then *unavailable is 1); NULL only when out of
 * memory. A list read less than a minute ago is reused
 * (subscriptions_cache.h); else Haravan is asked when `ask` is set (the
 * status stops asking once Haravan was slow for one shop), in at most
 * WEBHOOKS_STATUS_TIMEOUT_MS. */
#define WEBHOOKS_STATUS_TIMEOUT_MS 3000
cJSON *webhooks_subscriptions(worker *w, const char *org_id, int ask, int *unavailable);

/* Shared by the routes that call /api/subscribe (handler_webhooks.c,
 * handler_disconnect.c): the call's context for this worker; the org_id
 * the query names, if any, copied into `out` (NULL when none); and the
 * 502 {"error":"haravan","status":N,"body":...} that passes Haravan's
 * refusal on as it came. */
hv_subscribe_context webhooks_subscribe_context(worker *w);
const char *webhooks_requested_org(const request *r, char *out, size_t size);
void webhooks_reply_refused(request *r, long status, const buffer *body);

void handle_disconnect(worker *w, request *r);

#endif
