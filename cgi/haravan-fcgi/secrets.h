/*
 * secrets: a worker's copy of the settings every webhook needs.
 *
 * Reading and unsealing the client secret for every delivery would double
 * the database round trips of intake, so each worker keeps the opened
 * values in memory and reloads them when told to:
 *   - by `NOTIFY hv_settings`, which every settings change sends (the worker
 *     LISTENs on each new connection, and a reconnect also reloads, since
 *     notifications sent while disconnected are lost);
 *   - by a signature that fails against the cached secrets: the change may
 *     have committed a moment before its notification reached us, and a
 *     genuine delivery must not get a 401 for that. At most once every
 *     SECRETS_RECHECK_SECONDS per process (secrets_recheck): anyone can
 *     post wrongly signed deliveries, and each must not cost a database
 *     read. Reloads for notifications do not count against that second
 *     (only an admin can cause them), so outside a flood a rotation that
 *     beats its own notification is still caught at once; during a flood
 *     it may meet one 401, and Haravan sends the delivery again.
 *
 * Every read from the database is counted in *loads (the shared
 * settings_loads counter that /api/haravan/health shows), so that the
 * cost of a flood can be seen.
 *
 * Ownership: the cache owns its strings and wipes them when freed.
 */
#ifndef HARAVAN_FCGI_SECRETS_H
#define HARAVAN_FCGI_SECRETS_H

#include <stddef.h>
#include <time.h>

#include <stdatomic.h>

#include "core/db.h"

#define SECRETS_RECHECK_SECONDS 1

typedef struct secrets {
    int loaded;
    int rechecked;                /* secrets_recheck has forced a reload */
    struct timespec rechecked_at; /* CLOCK_MONOTONIC of that reload */
    atomic_llong *loads;          /* NULL, or counted into on every read */
    char *client_secret;          /* NULL when not configured */
    char *previous_secret;        /* NULL when none or its grace period is over */
    time_t previous_until;        /* end of the rotation grace period */
    char *verify_token;           /* NULL when not configured */
} secrets;

/* Marks the cache stale when a settings notification has arrived. */
void secrets_poll(secrets *cache, db *database);

/* Loads the values if the cache is stale. Returns 0, or -1 with a message
 * in `error` (the database is unreachable or a value cannot be opened). */
int secrets_ensure(secrets *cache, db *database, const unsigned char *master_key, char *error,
                   size_t error_size);

/* Forces the next secrets_ensure() to reload. */
void secrets_invalidate(secrets *cache);

/* A signature failed against the cached secrets: forces a reload unless
 * the last one it forced was less than SECRETS_RECHECK_SECONDS ago.
 * Returns 1 when it did (checking once more is worth it), 0 when not. */
int secrets_recheck(secrets *cache);

/* The signing secrets currently accepted, for hv_webhook_verify(). */
size_t secrets_signing(const secrets *cache, const char *out[2]);

void secrets_free(secrets *cache);

/* The db_connect_hook for workers: LISTEN and invalidate. */
int secrets_on_connect(db *database, void *cache);

#endif
