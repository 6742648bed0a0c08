/*
 * subscriptions_cache: a worker's copy of each connected shop's webhook
 * subscriptions, as Haravan last listed them, for a minute (up to
 * SUBSCRIPTIONS_CACHE_SHOPS shops; beyond, the oldest copy makes room).
 *
 * The settings page asks /api/haravan/status on every load, and the list
 * lives at Haravan (GET /api/subscribe): asking each time would spend the
 * shop's calls and hold a worker on Haravan's latency. The list changes
 * only when someone registers (POST /api/haravan/webhooks, which replaces
 * this worker's copy) or edits the app on Haravan's dashboard, so a copy a
 * minute old is good enough for a page that informs.
 *
 * Per process, not in the database: another worker's copy may be up to a
 * minute older after a registration, which the page can bear, and sharing
 * one would mean a write on every refresh for a value only shown. A failed
 * read is not kept: the next status asks again.
 *
 * Ownership: the cache owns its list; subscriptions_cache_get returns a
 * copy the caller deletes.
 */
#ifndef HARAVAN_FCGI_SUBSCRIPTIONS_CACHE_H
#define HARAVAN_FCGI_SUBSCRIPTIONS_CACHE_H

#include <time.h>

#include <cJSON.h>

#include "haravan/shop.h"

#define SUBSCRIPTIONS_CACHE_SECONDS 60

#define SUBSCRIPTIONS_CACHE_SHOPS 16

typedef struct subscriptions_cache_entry {
    char org_id[HV_SHOP_ORG_ID_SIZE];
    struct timespec fetched_at; /* CLOCK_MONOTONIC */
    cJSON *list;                /* NULL: nothing kept */
} subscriptions_cache_entry;

typedef struct subscriptions_cache {
    subscriptions_cache_entry shops[SUBSCRIPTIONS_CACHE_SHOPS];
} subscriptions_cache;

/* A copy of `org_id`'s list when one younger than a minute is kept; NULL
 * otherwise (or out of memory). */
cJSON *subscriptions_cache_get(const subscriptions_cache *cache, const char *org_id);

/* Keeps a copy of `list` for `org_id`, replacing what was kept for it. */
void subscriptions_cache_put(subscriptions_cache *cache, const char *org_id, const cJSON *list);

/* Forgets every shop's copy (after a subscribe or unsubscribe). */
void subscriptions_cache_clear(subscriptions_cache *cache);

#endif
