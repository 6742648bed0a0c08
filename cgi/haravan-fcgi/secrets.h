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
 *     genuine delivery must not get a 401 for that.
 *
 * Ownership: the cache owns its strings and wipes them when freed.
 */
#ifndef HARAVAN_FCGI_SECRETS_H
#define HARAVAN_FCGI_SECRETS_H

#include <stddef.h>
#include <time.h>

#include "core/db.h"

typedef struct secrets {
    int loaded;
    char *client_secret;   /* NULL when not configured */
    char *previous_secret; /* NULL when none or its grace period is over */
    time_t previous_until; /* end of the rotation grace period */
    char *verify_token;    /* NULL when not configured */
} secrets;

/* Marks the cache stale when a settings notification has arrived. */
void secrets_poll(secrets *cache, db *database);

/* Loads the values if the cache is stale. Returns 0, or -1 with a message
 * in `error` (the database is unreachable or a value cannot be opened). */
int secrets_ensure(secrets *cache, db *database, const unsigned char *master_key, char *error,
                   size_t error_size);

/* Forces the next secrets_ensure() to reload. */
void secrets_invalidate(secrets *cache);

/* The signing secrets currently accepted, for hv_webhook_verify(). */
size_t secrets_signing(const secrets *cache, const char *out[2]);

void secrets_free(secrets *cache);

/* The db_connect_hook for workers: LISTEN and invalidate. */
int secrets_on_connect(db *database, void *cache);

#endif
