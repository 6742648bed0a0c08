/*
 * GET /api/haravan/health: is this worker able to accept deliveries?
 *
 * The answer is about the database, since a delivery we cannot commit is a
 * delivery we must refuse: 200 when `SELECT 1` runs (reconnecting if the
 * connection broke), 503 otherwise. The intake counters ride along for
 * operators; they are not secret. settings_loads counts the workers' reads
 * of the webhook settings (secrets.h): under a flood of forged deliveries
 * it must stay near one a second per worker.
 */
#include <stdio.h>

#include "handlers.h"

void handle_health(worker *w, request *r)
{
    PGresult *result = db_query(&w->database, DB_IDEMPOTENT, "SELECT 1", 0, NULL, NULL, NULL);
    int up = result != NULL;
    PQclear(result);

    counters *c = w->shared;
    char body[512];
    snprintf(body, sizeof body,
             "{\"status\":\"%s\",\"db\":\"%s\",\"counters\":{\"requests\":%lld,"
             "\"webhook_stored\":%lld,\"webhook_duplicates\":%lld,"
             "\"webhook_unparseable\":%lld,\"webhook_rejected_signature\":%lld,"
             "\"webhook_unavailable\":%lld,\"workers_restarted\":%lld,"
             "\"settings_loads\":%lld}}",
             up ? "ok" : "unavailable", up ? "ok" : "down", counters_read(&c->requests),
             counters_read(&c->webhook_stored), counters_read(&c->webhook_duplicates),
             counters_read(&c->webhook_unparseable), counters_read(&c->webhook_rejected_signature),
             counters_read(&c->webhook_unavailable), counters_read(&c->workers_restarted),
             counters_read(&c->settings_loads));
    request_reply_json(r, up ? 200 : 503, body);
}
