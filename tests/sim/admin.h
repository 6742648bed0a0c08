/*
 * admin: the /sim/ control routes, split by concern: routes_admin.c holds
 * the dispatch table and the REST-side controls (tokens, records,
 * failures, buckets, counters); admin_accounts.c the accounts and webhook
 * controls (apps, signing key, config, token expiry, refresh revocation,
 * deliveries). This header is what the two share.
 *
 * Every handler gets the request's JSON object body ({} when empty) and
 * replies exactly once. Ownership: `body` stays the dispatcher's;
 * sim_admin_reply_object() takes ownership of its document.
 */
#ifndef HARAVAN_SIM_ADMIN_H
#define HARAVAN_SIM_ADMIN_H

#include <cJSON.h>

#include "sim.h"

typedef void (*sim_admin_handler)(sim *s, request *r, const cJSON *body);

/* {"error":"message"} with `status`. */
void sim_admin_error(request *r, int status, const char *message);

/* `document` with `status`, or 500 when it is NULL (memory ran out). */
void sim_admin_reply_object(request *r, int status, cJSON *document);

/* A whole number >= 0, given as a JSON number or a string of digits.
 * Returns 0 or -1. */
int sim_whole_number(const cJSON *value, long long *out);

/* The org named by the body's "org_id", or the default org; NULL after
 * answering 404. */
sim_org *sim_target_org(sim *s, request *r, const cJSON *body);

/* admin_accounts.c */
void sim_admin_apps_put(sim *s, request *r, const cJSON *body);
void sim_admin_apps_get(sim *s, request *r, const char *client_id);
/* GET, POST /sim/portal: HTML in, HTML out (not a JSON control). */
void sim_handle_portal(sim *s, request *r);
void sim_admin_keys_rotate(sim *s, request *r, const cJSON *body);
void sim_admin_config_get(sim *s, request *r, const cJSON *body);
void sim_admin_config_set(sim *s, request *r, const cJSON *body);
void sim_admin_tokens_expire(sim *s, request *r, const cJSON *body);
void sim_admin_refresh_revoke(sim *s, request *r, const cJSON *body);
void sim_admin_fire(sim *s, request *r, const cJSON *body);
/* Delivers `payload` under `topic` to every subscription of `org` whose
 * topics include it, as /sim/fire does; each outcome is added to `list`
 * (NULL: not listed). Returns 0, or -1 when memory ran out. */
int sim_fire_to_subscribers(sim *s, const sim_org *org, const char *topic, const char *payload,
                            cJSON *list);

/* routes_generate.c: POST /sim/generate and POST /sim/touch. */
void sim_admin_generate(sim *s, request *r, const cJSON *body);
void sim_admin_touch(sim *s, request *r, const cJSON *body);

#endif
