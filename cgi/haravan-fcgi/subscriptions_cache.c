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

static int is_fresh(const subscriptions_cache_entry *entry)
{
    return entry->list != NULL && age_ms(&entry->fetched_at) < SUBSCRIPTIONS_CACHE_SECONDS * 1000;
}

cJSON *subscriptions_cache_get(const subscriptions_cache *cache, const char *org_id)
{
    for (size_t i = 0; i < SUBSCRIPTIONS_CACHE_SHOPS; i++) {
        const subscriptions_cache_entry *entry = &cache->shops[i];
        if (entry->list != NULL && strcmp(entry->org_id, org_id) == 0)
            return is_fresh(entry) ? cJSON_Duplicate(entry->list, 1) : NULL;
    }
    return NULL;
}

static void entry_clear(subscriptions_cache_entry *entry)
{
    cJSON_Delete(entry->list);
    entry->list = NULL;
    entry->org_id[0] = '\0';
}

/* The shop's entry, else an empty one, else the oldest. */
static subscriptions_cache_entry *slot_for(subscriptions_cache *cache, const char *org_id)
{
    subscriptions_cache_entry *chosen = &cache->shops[0];
    for (size_t i = 0; i < SUBSCRIPTIONS_CACHE_SHOPS; i++) {
        subscriptions_cache_entry *entry = &cache->shops[i];
        if (entry->list != NULL && strcmp(entry->org_id, org_id) == 0)
            return entry;
        if (chosen->list != NULL &&
            (entry->list == NULL || age_ms(&entry->fetched_at) > age_ms(&chosen->fetched_at)))
            chosen = entry;
    }
    return chosen;
}

void subscriptions_cache_put(subscriptions_cache *cache, const char *org_id, const cJSON *list)
{
    if (strlen(org_id) >= HV_SHOP_ORG_ID_SIZE)
        return;
    subscriptions_cache_entry *entry = slot_for(cache, org_id);
    entry_clear(entry);
    entry->list = cJSON_Duplicate(list, 1);
    snprintf(entry->org_id, sizeof entry->org_id, "%s", org_id);
    clock_gettime(CLOCK_MONOTONIC, &entry->fetched_at);
}

void subscriptions_cache_clear(subscriptions_cache *cache)
{
    for (size_t i = 0; i < SUBSCRIPTIONS_CACHE_SHOPS; i++)
        entry_clear(&cache->shops[i]);
}
