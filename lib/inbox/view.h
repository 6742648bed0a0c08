/*
 * inbox_view: what people are shown of the inbox (hv_events): the lists,
 * one event, and the counts, for the settings page (cgi/haravan-fcgi/
 * handler_events.c, handler_status.c) and haravan-ctl (events, status,
 * replay --dead).
 *
 * Every statement here only reads. The lists are newest first and capped
 * by `limit`; a NULL filter means "any". Times are UTC, as text.
 *
 * Ownership: a returned PGresult is the caller's (PQclear()); NULL means
 * the database failed (database->error says why).
 */
#ifndef HARAVAN_INBOX_VIEW_H
#define HARAVAN_INBOX_VIEW_H

#include <stddef.h>

#include "core/db.h"

/* The settings page's sync log, one page: id, received_at (seconds, "Z"),
 * topic, org_id, resource_id, status, reason, notes, attempts (NULLs as
 * NULL), newest first. Filters: `org_id`, `topic`, `status` (each NULL or
 * one value); `before` NULL or an id as text (keyset: only events with a
 * smaller id, so a page stays the same while new events arrive); `limit`
 * as text. With `org_id` the walk is the index (org_id, id) of
 * sql/connector/011_shops.sql. */
PGresult *inbox_list_events(db *database, const char *org_id, const char *topic, const char *status,
                            const char *before, const char *limit);

/* haravan-ctl's list: id, received_at, status, topic, org_id ("-" when
 * none), resource_id ("-" when none), reason ("" when none), with
 * `status` and `topic` each NULL or one value, `limit` as text. */
PGresult *inbox_list_events_brief(db *database, const char *status, const char *topic,
                                  const char *limit);

/* Everything stored of event `id` (text), for haravan-ctl events show:
 * id, status, topic, org_id, resource_id, resource_updated_at,
 * dedupe_key, headers, received_at (milliseconds), attempts, reason,
 * notes ("" for each that is NULL), then the body as bytea text
 * (PQunescapeBytea() it). No row when there is no such event. */
#define INBOX_SHOW_BODY_COLUMN 12
PGresult *inbox_show_event(db *database, const char *id);

/* The status of event `id` (text) into `status`. Returns 1 found, 0 no
 * such event, -1 error. */
int inbox_event_status(db *database, const char *id, char *status, size_t status_size);

/* How many events are in each status: rows of (status, count), by status;
 * a status with no event has no row. */
PGresult *inbox_count_by_status(db *database);

/* How many events each shop has in each status: rows of (org_id, status,
 * count), org_id "" for events stored without one. */
PGresult *inbox_count_by_org_status(db *database);

/* The chart: events received at or after `since` (a timestamptz as text,
 * the start of an hour) with outcome done, ignored or dead, counted per
 * shop, hour and outcome: rows of (org_id, hour (0 for the hour starting
 * at `since`), status, count). One GROUP BY over the index on received_at
 * (sql/connector/011_shops.sql). */
PGresult *inbox_hourly_outcomes(db *database, const char *since);

/* When event `id` (text) was received, as PostgreSQL's full-precision text
 * of the timestamptz, into `out`. Returns 1 found, 0 no such event, -1
 * error. The uninstall compares it with the shop's connection time
 * (haravan/uninstall.h). */
int inbox_event_received_at(db *database, const char *id, char *out, size_t out_size);

/* The ids of the dead events, oldest first: one column. */
PGresult *inbox_dead_ids(db *database);

#endif
