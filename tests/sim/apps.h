/*
 * apps: the apps registered with the simulated Haravan, i.e. what a
 * developer types into Haravan's partner dashboard: client id and secret,
 * the Redirect URLs, and the webhook Callback URL, Verify Token and topics
 * (docs/HARAVAN.md sections 1 and 2). /sim/apps writes here; the authorize and
 * token endpoints, /api/subscribe and the deliveries read from here.
 *
 * An app is kept as the JSON object /sim/apps shows, because that is all
 * it is: validated on the way in (sizes, URL schemes, printable ids) and
 * then only read.
 *     {"client_id","client_secret","name","redirect_uris":[...],
 *      "webhook":{"callback_url","verify_token","topics":[...]}}
 *
 * Ownership: the registry owns the apps. A pointer returned by
 * sim_apps_find()/sim_apps_put() stays valid until that app is updated
 * again or the registry is freed.
 */
#ifndef HARAVAN_SIM_APPS_H
#define HARAVAN_SIM_APPS_H

#include <stddef.h>

#include <cJSON.h>

#define SIM_MAX_APPS          1000
#define SIM_MAX_ID_LENGTH     200 /* client_id, client_secret */
#define SIM_MAX_URL_LENGTH    2000
#define SIM_MAX_REDIRECT_URIS 20
#define SIM_MAX_TOPICS        50
#define SIM_MAX_TOPIC_LENGTH  100
#define SIM_MAX_VERIFY_TOKEN  512

typedef struct sim_apps {
    cJSON *list; /* array of app objects; NULL until the first app */
} sim_apps;

void sim_apps_free(sim_apps *apps);

/* The app with `client_id`, or NULL. */
const cJSON *sim_apps_find(const sim_apps *apps, const char *client_id);

/* Registers an app or updates one from a /sim/apps body: fields left out
 * keep their value; a new app needs client_id and client_secret. Returns
 * the stored app, or NULL with a message in `error` (nothing changed). */
const cJSON *sim_apps_put(sim_apps *apps, const cJSON *body, char *error, size_t error_size);

/* A string member of the app ("client_secret", "name") or of its webhook
 * ("callback_url", "verify_token"); "" when absent. */
const char *sim_app_text(const cJSON *app, const char *name);
const char *sim_app_webhook_text(const cJSON *app, const char *name);

/* 1 when `redirect_uri` is one of the app's, compared exactly (Haravan,
 * like any OpenID provider, does no prefix or case matching). */
int sim_app_redirect_registered(const cJSON *app, const char *redirect_uri);

/* The app's webhook topics (an array of strings; never NULL for a stored
 * app). */
const cJSON *sim_app_topics(const cJSON *app);

/* 1 for a topic like "orders/create": lower case letters, digits, '_'
 * and one '/' inside, at most SIM_MAX_TOPIC_LENGTH long. */
int sim_topic_acceptable(const char *topic);

/* 1 for an absolute http:// or https:// URL of printable ASCII without
 * spaces, quotes or angle brackets, at most SIM_MAX_URL_LENGTH long. */
int sim_url_acceptable(const char *url);

#endif
