/*
 * secrets: cached, notification-invalidated webhook settings. See secrets.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "secrets.h"

#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/settings.h"

static void wipe(char **value)
{
    if (*value != NULL) {
        crypto_wipe(*value, strlen(*value));
        free(*value);
        *value = NULL;
    }
}

void secrets_free(secrets *cache)
{
    wipe(&cache->client_secret);
    wipe(&cache->previous_secret);
    wipe(&cache->verify_token);
    cache->loaded = 0;
}

void secrets_invalidate(secrets *cache)
{
    cache->loaded = 0;
}

int secrets_recheck(secrets *cache)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    /* Whole seconds of difference would understate by under a second;
     * counting nanoseconds too keeps "at most once a second" exact. */
    long long elapsed_ms = (long long)(now.tv_sec - cache->rechecked_at.tv_sec) * 1000 +
                           (now.tv_nsec - cache->rechecked_at.tv_nsec) / 1000000;
    if (cache->rechecked && elapsed_ms < SECRETS_RECHECK_SECONDS * 1000)
        return 0;
    cache->rechecked = 1;
    cache->rechecked_at = now;
    cache->loaded = 0;
    return 1;
}

int secrets_on_connect(db *database, void *cache)
{
    secrets_invalidate(cache);
    return db_command(database, "LISTEN " SETTINGS_CHANNEL);
}

void secrets_poll(secrets *cache, db *database)
{
    if (database->connection == NULL)
        return;
    if (PQconsumeInput(database->connection) == 0) {
        /* The connection is gone, and with it any notification it had not
         * delivered yet (a rotation committed just before PostgreSQL
         * restarted): the cache can no longer be known current. Reading
         * again reconnects, and costs nothing against the once-a-second
         * budget of failed signatures, which a stale cache would spend. */
        secrets_invalidate(cache);
        return;
    }
    for (PGnotify *notification = PQnotifies(database->connection); notification != NULL;
         notification = PQnotifies(database->connection)) {
        secrets_invalidate(cache);
        PQfreemem(notification);
    }
}

/* Loads one value into *slot (NULL when not set). Returns 0 or -1. */
static int load(db *database, const unsigned char *master_key, const char *name, char **slot,
                time_t *updated_at, char *error, size_t error_size)
{
    buffer value = BUFFER_INIT;
    int found = settings_get(database, master_key, name, &value, updated_at, error, error_size);
    if (found < 0) {
        buffer_free(&value);
        return -1;
    }
    wipe(slot);
    *slot = found ? buffer_detach(&value) : NULL;
    buffer_free(&value);
    return 0;
}

int secrets_ensure(secrets *cache, db *database, const unsigned char *master_key, char *error,
                   size_t error_size)
{
    if (cache->loaded)
        return 0;
    if (cache->loads != NULL)
        atomic_fetch_add_explicit(cache->loads, 1, memory_order_relaxed);
    time_t previous_changed = 0;
    if (load(database, master_key, "client_secret", &cache->client_secret, NULL, error,
             error_size) != 0 ||
        load(database, master_key, "client_secret_previous", &cache->previous_secret,
             &previous_changed, error, error_size) != 0 ||
        load(database, master_key, "verify_token", &cache->verify_token, NULL, error, error_size) !=
            0) {
        secrets_free(cache);
        return -1;
    }
    cache->previous_until = previous_changed + SETTINGS_ROTATION_GRACE_SECONDS;
    cache->loaded = 1;
    return 0;
}

size_t secrets_signing(const secrets *cache, const char *out[2])
{
    size_t count = 0;
    if (cache->client_secret != NULL)
        out[count++] = cache->client_secret;
    if (cache->previous_secret != NULL && time(NULL) < cache->previous_until)
        out[count++] = cache->previous_secret;
    return count;
}
