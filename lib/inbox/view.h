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

/* The settings page's list: id, received_at (seconds, "Z"), topic,
 * org_id, resource_id, status, reason, notes, attempts (NULLs as NULL),
 * with `status` NULL or one status, `limit` as text. */
PGresult *inbox_list_events(db *database, const char *status, const char *limit);

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

/* The ids of the dead events, oldest first: one column. */
PGresult *inbox_dead_ids(db *database);

#endif
