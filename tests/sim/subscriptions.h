/*
 * subscriptions: webhook.haravan.com's /api/subscribe (docs/HARAVAN.md section
 * 2): a shop's token subscribes the app's callback URL to the app's topics,
 * lists its subscription, and unsubscribes.
 *
 * Before a subscription is accepted, the simulator makes the verify-token
 * handshake Haravan documents: GET {callback}?hub.mode=subscribe&
 * hub.verify_token={app's}&hub.challenge={random}, which must answer 200
 * with exactly the challenge. The call is made from inside the request
 * (the simulator is one process; see outbound.h) with the delivery timeout
 * of /sim/config.
 *
 * A subscription belongs to one shop (org) and one app (the client the
 * token was issued to; for a seeded token, issued to no app, the first app
 * registered, which in a stack is the one stack.sh registers); it records the app's callback URL
 * and topics as they were when it was made, and deliveries are signed with the app's client secret
 * as it is when they are sent (so a secret rotated in the dashboard takes effect at once, as with
 * Haravan).
 *
 * Ownership: the list owns its subscriptions; the JSON made by
 * sim_subscription_json() is the caller's (cJSON_Delete).
 */
#ifndef HARAVAN_SIM_SUBSCRIPTIONS_H
#define HARAVAN_SIM_SUBSCRIPTIONS_H

#include <stddef.h>
#include <time.h>

#include <cJSON.h>

#define SIM_MAX_SUBSCRIPTIONS 10000

typedef struct sim_subscription {
    long long org_id;
    char *client_id;
    char *callback_url;
    cJSON *topics; /* array of strings */
    char created_at[32];
} sim_subscription;

typedef struct sim_subscriptions {
    sim_subscription *items;
    size_t count;
} sim_subscriptions;

/* Makes or replaces the subscription of (org_id, client_id) at `now`.
 * Returns it, or NULL (memory, or too many). */
const sim_subscription *sim_subscriptions_put(sim_subscriptions *list, long long org_id,
                                              const char *client_id, const char *callback_url,
                                              const cJSON *topics, time_t now);

/* The subscription of (org_id, client_id), or NULL. */
const sim_subscription *sim_subscriptions_find(const sim_subscriptions *list, long long org_id,
                                               const char *client_id);

/* Removes it. Returns 1 when there was one, else 0. */
int sim_subscriptions_remove(sim_subscriptions *list, long long org_id, const char *client_id);

/* 1 when the subscription's topics include `topic`. */
int sim_subscription_has_topic(const sim_subscription *subscription, const char *topic);

/* {"org_id","callback_url","topics":[...],"created_at"}; NULL on failure. */
cJSON *sim_subscription_json(const sim_subscription *subscription);

void sim_subscriptions_free(sim_subscriptions *list);

#endif
