/*
 * hv_uninstall: what an app/uninstalled delivery does to its shop
 * (docs/HARAVAN.md section 2; docs/CONNECT.md "A shop's life").
 *
 * The delivery is stored like any other (intake knows no topic) and then
 * taken by the processors like any other, so it is deduplicated, retried
 * and shown in the sync log the same way. The CRM side does not know the
 * topic: the processors hand it here through crm_processor's shop_event
 * hook (cgi/haravan-fcgi/processing.c), inside the event's savepoint, so
 * the shop's change and the event's "done" commit together.
 *
 * The shop is disconnected (haravan/shop.h, hv_shop_disconnect): its
 * tokens are deleted, so the token refresh duty and staff lookups, which
 * read the tokens from hv_shops each time, stop calling Haravan for it;
 * its CRM rows stay. An uninstall received before the shop's current
 * connection began (the merchant installed the app again, and the old
 * uninstall is processed late: a backlog, a retry, a replay) is about the
 * old connection and leaves the new one alone; the event is done with a
 * note saying so.
 *
 * Ownership: nothing is kept; strings are borrowed.
 */
#ifndef HARAVAN_HARAVAN_UNINSTALL_H
#define HARAVAN_HARAVAN_UNINSTALL_H

#include <stddef.h>

#include "core/db.h"

#define HV_UNINSTALL_TOPIC "app/uninstalled"

/* The topics hv_uninstall_apply handles, NULL-terminated (for
 * crm_processor's shop_topics). */
extern const char *const hv_shop_topics[];

/* crm_processor's shop_event: applies event `event_id` of shop `org_id`
 * (`topic` is HV_UNINSTALL_TOPIC). `context` is unused. Returns 0 with
 * `note` saying what happened, or -1 when the database failed (with
 * database->error set). */
int hv_uninstall_apply(void *context, db *database, const char *event_id, const char *topic,
                       const char *org_id, char *note, size_t note_size);

#endif
