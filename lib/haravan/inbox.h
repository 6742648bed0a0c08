/*
 * hv_inbox: the durable record of every verified delivery (hv_events).
 *
 * The one promise of intake is that a 200 to Haravan means the delivery is
 * committed. hv_inbox_store() is a single INSERT in autocommit: when it
 * returns 0 the row (or the row of an earlier identical delivery) is on
 * disk. Because the statement is idempotent through its two unique
 * identities (the dedupe key, and the topic with the body's SHA-256; see
 * docs/ARCHITECTURE.md, "Dedupe key"), it is safe to run again after a
 * reconnect, which db_query() does.
 */
#ifndef HARAVAN_HARAVAN_INBOX_H
#define HARAVAN_HARAVAN_INBOX_H

#include <stddef.h>

#include "core/db.h"
#include "haravan/webhook.h"

/* A stored event is processed first by the worker that stored it, right
 * after its 200. Background processing (crm_process_due) leaves it alone
 * for this long, so that the two do not both resolve the same order's
 * staff member through Haravan's rate-limited API before one of them wins
 * the row lock. After a worker crash the event waits this long, no more. */
#define HV_INBOX_FIRST_CLAIM_INTERVAL "5 seconds"

typedef struct hv_inbox_entry {
    const char *topic;
    const hv_webhook *webhook;
    const char *headers_json; /* the headers worth keeping, as a JSON object */
    const char *notes;        /* NULL, or what intake had to repair */
    const char *body;
    size_t body_length;
    int is_test;
} hv_inbox_entry;

/* Stores `entry`. Sets *event_id to the new row's id, or to 0 when an
 * identical delivery was already stored. Returns 0, or -1 when nothing can
 * be promised (database->error says why). */
int hv_inbox_store(db *database, const hv_inbox_entry *entry, long long *event_id);

#endif
