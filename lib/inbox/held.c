/*
 * inbox_held: one statement for a whole page of records. See held.h.
 */
#include "inbox/held.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buffer.h"
#include "core/sql_array.h"

/* Every topic an event of `kind` is stored under: Haravan's webhooks and
 * the catch-up engine's own. */
static const char *const order_topics[] = {"orders/create", "orders/updated",
                                           "orders/paid",   "orders/cancelled",
                                           "orders/import", "orders/reconcile"};
static const char *const customer_topics[] = {"customers/create", "customers/update",
                                              "customers/import", "customers/reconcile"};

static const char held_sql[] =
    "SELECT listed.place FROM unnest($3::text[], $4::text[]) WITH ORDINALITY"
    " AS listed(id, at, place)"
    " WHERE EXISTS (SELECT 1 FROM hv_events e WHERE e.org_id = $1 AND e.topic = ANY($2::text[])"
    " AND e.resource_id = listed.id AND e.status IN ('pending', 'processing', 'done')"
    " AND hv_timestamptz(e.resource_updated_at) >= hv_timestamptz(listed.at))";

int inbox_versions_held(db *database, const char *org_id, const char *kind, const char *const *ids,
                        const char *const *updated_at, size_t count, int *held)
{
    int orders = strcmp(kind, "orders") == 0;
    memset(held, 0, count * sizeof *held);
    if (count == 0)
        return 0;
    buffer topics = BUFFER_INIT, id_array = BUFFER_INIT, at_array = BUFFER_INIT;
    int built = sql_text_array(&topics, orders ? order_topics : customer_topics,
                               orders ? sizeof order_topics / sizeof order_topics[0]
                                      : sizeof customer_topics / sizeof customer_topics[0]) == 0 &&
                sql_text_array(&id_array, ids, count) == 0 &&
                sql_text_array(&at_array, updated_at, count) == 0;
    PGresult *result = NULL;
    if (built) {
        const char *values[] = {org_id, buffer_text(&topics), buffer_text(&id_array),
                                buffer_text(&at_array)};
        result = db_query(database, DB_IDEMPOTENT, held_sql, 4, values, NULL, NULL);
    } else {
        snprintf(database->error, sizeof database->error, "out of memory listing held versions");
    }
    buffer_free(&topics);
    buffer_free(&id_array);
    buffer_free(&at_array);
    if (result == NULL)
        return -1;
    for (int row = 0; row < PQntuples(result); row++) {
        long place = strtol(PQgetvalue(result, row, 0), NULL, 10);
        if (place >= 1 && (size_t)place <= count)
            held[place - 1] = 1;
    }
    PQclear(result);
    return 0;
}
