/*
 * worker: one FastCGI worker process.
 *
 * A worker accepts requests on the socket its master bound, one at a time,
 * with one PostgreSQL connection of its own. It stops accepting on SIGTERM,
 * finishes the request in hand, and exits; everything else about process
 * management is the master's (master.h). A delivery is checked, stored and
 * answered, nothing more: processing is the processors' (processing.h).
 *
 * Handlers get the worker for its configuration, database, cached secrets
 * and subscription list, shared counters and its clients of Haravan's services (with the OpenID
 * discovery document and signing keys they cache); nothing in a worker
 * outlives a request except these.
 */
#ifndef HARAVAN_FCGI_WORKER_H
#define HARAVAN_FCGI_WORKER_H

#include "core/config.h"
#include "core/db.h"
#include "counters.h"
#include "haravan/clients.h"
#include "secrets.h"
#include "subscriptions_cache.h"

typedef struct worker {
    const config *configuration;
    counters *shared;
    db database;
    secrets cache;
    hv_clients haravan; /* accounts and webhooks for the admin routes, token refresh after a 401 */
    subscriptions_cache subscriptions; /* for /api/haravan/status */
    /* When this worker last sent an INSERT that notifies the processors
     * (clock_monotonic_seconds; 0: never): inbox/inbox.h, "Waking". */
    double announced_at;
} worker;

/* Serves requests until SIGTERM. Returns the process exit status. */
int worker_run(const config *configuration, counters *shared, int listen_fd);

#endif
