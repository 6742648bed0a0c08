/*
 * inbox_view: the read-only statements on hv_events that people's screens
 * and haravan-ctl use. See view.h.
 */
#include "inbox/view.h"

#include <stdio.h>

PGresult *inbox_list_events(db *database, const char *status, const char *limit)
{
    const char *values[] = {status, limit};
    return db_query(
        database, DB_IDEMPOTENT,
        "SELECT id, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " topic, org_id, resource_id, status, reason, notes, attempts"
        " FROM hv_events WHERE ($1::text IS NULL OR status = $1)"
        " ORDER BY id DESC LIMIT $2::int",
        2, values, NULL, NULL);
}

PGresult *inbox_list_events_brief(db *database, const char *status, const char *topic,
                                  const char *limit)
{
    const char *values[] = {status, topic, limit};
    return db_query(
        database, DB_ONCE,
        "SELECT id, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " status, topic, coalesce(org_id, '-'), coalesce(resource_id, '-'), coalesce(reason, '')"
        " FROM hv_events WHERE ($1::text IS NULL OR status = $1)"
        " AND ($2::text IS NULL OR topic = $2) ORDER BY id DESC LIMIT $3::int",
        3, values, NULL, NULL);
}

PGresult *inbox_show_event(db *database, const char *id)
{
    const char *values[] = {id};
    return db_query(database, DB_ONCE,
                    "SELECT id, status, topic, coalesce(org_id, ''), coalesce(resource_id, ''),"
                    " coalesce(resource_updated_at, ''), dedupe_key, headers::text,"
                    " to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
                    " attempts, coalesce(reason, ''), coalesce(notes, ''), body"
                    " FROM hv_events WHERE id = $1::bigint",
                    1, values, NULL, NULL);
}

int inbox_event_status(db *database, const char *id, char *status, size_t status_size)
{
    const char *values[] = {id};
    PGresult *result =
        db_query(database, DB_IDEMPOTENT, "SELECT status FROM hv_events WHERE id = $1::bigint", 1,
                 values, NULL, NULL);
    if (result == NULL)
        return -1;
    int found = PQntuples(result) > 0;
    if (found)
        snprintf(status, status_size, "%s", PQgetvalue(result, 0, 0));
    PQclear(result);
    return found;
}

PGresult *inbox_count_by_status(db *database)
{
    return db_query(database, DB_IDEMPOTENT,
                    "SELECT status, count(*) FROM hv_events GROUP BY status ORDER BY status", 0,
                    NULL, NULL, NULL);
}

PGresult *inbox_dead_ids(db *database)
{
    return db_query(database, DB_ONCE, "SELECT id FROM hv_events WHERE status = 'dead' ORDER BY id",
                    0, NULL, NULL, NULL);
}
