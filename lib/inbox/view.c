/*
 * inbox_view: the read-only statements on hv_events that people's screens
 * and haravan-ctl use. See view.h.
 */
#include "inbox/view.h"

#include <stdio.h>

PGresult *inbox_list_events(db *database, const char *org_id, const char *topic, const char *status,
                            const char *before, const char *limit)
{
    const char *values[] = {org_id, topic, status, before, limit};
    return db_query(
        database, DB_IDEMPOTENT,
        "SELECT id, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " topic, org_id, resource_id, status, reason, notes, attempts"
        " FROM hv_events WHERE ($1::text IS NULL OR org_id = $1)"
        " AND ($2::text IS NULL OR topic = $2) AND ($3::text IS NULL OR status = $3)"
        " AND ($4::bigint IS NULL OR id < $4::bigint)"
        " ORDER BY id DESC LIMIT $5::int",
        5, values, NULL, NULL);
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

PGresult *inbox_count_by_org_status(db *database)
{
    return db_query(database, DB_IDEMPOTENT,
                    "SELECT coalesce(org_id, ''), status, count(*) FROM hv_events"
                    " GROUP BY 1, 2 ORDER BY 1, 2",
                    0, NULL, NULL, NULL);
}

PGresult *inbox_hourly_outcomes(db *database, const char *since)
{
    const char *values[] = {since};
    return db_query(database, DB_IDEMPOTENT,
                    "SELECT coalesce(org_id, ''),"
                    " floor(extract(epoch FROM received_at - $1::timestamptz) / 3600)::int,"
                    " status, count(*) FROM hv_events WHERE received_at >= $1::timestamptz"
                    " AND status IN ('done', 'ignored', 'dead') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                    1, values, NULL, NULL);
}

int inbox_event_received_at(db *database, const char *id, char *out, size_t out_size)
{
    const char *values[] = {id};
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "SELECT received_at::text FROM hv_events WHERE id = $1::bigint", 1,
                                values, NULL, NULL);
    if (result == NULL)
        return -1;
    int found = PQntuples(result) > 0;
    if (found)
        snprintf(out, out_size, "%s", PQgetvalue(result, 0, 0));
    PQclear(result);
    return found;
}

PGresult *inbox_dead_ids(db *database)
{
    return db_query(database, DB_ONCE, "SELECT id FROM hv_events WHERE status = 'dead' ORDER BY id",
                    0, NULL, NULL, NULL);
}
