/*
 * subscriptions_cache: a minute of Haravan's subscription list per worker.
 * See subscriptions_cache.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "subscriptions_cache.h"

#include <stdio.h>
#include <string.h>

static long long age_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)(now.tv_sec - since->tv_sec) * 1000 +
           (now.tv_nsec - since->tv_nsec) / 1000000;
}

cJSON *subscriptions_cache_get(const subscriptions_cache *cache, const char *org_id)
{
    if (cache->list == NULL || strcmp(cache->org_id, org_id) != 0 ||
        age_ms(&cache->fetched_at) >= SUBSCRIPTIONS_CACHE_SECONDS * 1000)
        return NULL;
    return cJSON_Duplicate(cache->list, 1);
}

void subscriptions_cache_put(subscriptions_cache *cache, const char *org_id, const cJSON *list)
{
    subscriptions_cache_clear(cache);
    if (strlen(org_id) >= sizeof cache->org_id)
        return;
    cache->list = cJSON_Duplicate(list, 1);
    snprintf(cache->org_id, sizeof cache->org_id, "%s", org_id);
    clock_gettime(CLOCK_MONOTONIC, &cache->fetched_at);
}

void subscriptions_cache_clear(subscriptions_cache *cache)
{
    cJSON_Delete(cache->list);
    cache->list = NULL;
    cache->org_id[0] = '\0';
}
