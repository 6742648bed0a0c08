/*
 * inbox_held: which versions of Haravan records the inbox already holds,
 * so that the catch-up engine (haravan/catchup.h) stores only what no
 * webhook, import or earlier reconciliation brought.
 *
 * A version is held when an event of the same shop and kind ("orders",
 * "customers": the topic's first part) for the same record id, with an
 * updated_at at or after the listed one, is pending, processing or done
 * (a dead or ignored event brought nothing to the CRM). The lookup uses
 * hv_events_by_resource (org_id, topic, resource_id) with each of the
 * kind's topics.
 *
 * Ownership: the caller's arrays; nothing is allocated for it to free.
 */
#ifndef HARAVAN_INBOX_HELD_H
#define HARAVAN_INBOX_HELD_H

#include <stddef.h>

#include "core/db.h"

/* For each i < count, held[i] = 1 when the inbox holds record ids[i] of
 * `kind` ("orders" or "customers") at updated_at[i] or later, else 0.
 * ids and updated_at are text as Haravan wrote them. Returns 0, or -1
 * with database->error. */
int inbox_versions_held(db *database, const char *org_id, const char *kind, const char *const *ids,
                        const char *const *updated_at, size_t count, int *held);

#endif
