/*
 * inbox: the durable record of every verified delivery (hv_events), and
 * the one module that speaks to that table.
 *
 * The flow is Haravan side -> inbox -> CRM side: intake (haravan/, through
 * cgi/haravan-fcgi/handler_webhook.c) stores here, the processors (crm/,
 * through cgi/haravan-fcgi/processing.c) claim and finish here, and the
 * settings page and haravan-ctl list and count here. Every SQL statement
 * on hv_events is in lib/inbox/: inbox.h (storing), body.h (what a stored
 * body is), claim.h (the processors' statements) and view.h (what people
 * are shown). The inbox includes neither side.
 *
 * The one promise of intake is that a 200 to Haravan means the delivery is
 * committed. inbox_store() is a single INSERT in autocommit: when it
 * returns 0 the row (or the row of an earlier identical delivery) is on
 * disk. Because the statement is idempotent through its two unique
 * identities (the dedupe key, and the topic with the body's SHA-256; see
 * docs/ARCHITECTURE.md, "Dedupe key"), it is safe to run again after a
 * reconnect, which db_query() does.
 *
 * Storing is all a request worker does with an event: the processors
 * (cgi/haravan-fcgi/processing.h) are woken by a NOTIFY and process it,
 * never the process that answers Haravan.
 *
 * Waking the processors: PostgreSQL commits notifying transactions one at
 * a time (each holds a lock across its WAL flush), so an INSERT that
 * notifies cannot share a flush with the others, and a notification per
 * delivery nearly halved the rate of the intake's INSERT
 * (docs/PERFORMANCE.md). So a worker announces at most one stored event
 * per INBOX_WAKE_MS (timed from when it sent the announcing INSERT): the
 * first after a quiet spell at once, the others covered by the promise the
 * processors keep in return: a processor that received a notification
 * looks at the inbox again INBOX_WAKE_MS + INBOX_WAKE_MARGIN_MS after it,
 * working or not. An event stored unannounced was sent less than
 * INBOX_WAKE_MS after an announced one, whose notification every listening
 * processor received at or after its commit; so unless its own INSERT took
 * longer than the margin to commit, that later look sees it. Nothing waits
 * more than about INBOX_WAKE_MS + INBOX_WAKE_MARGIN_MS, and an INSERT
 * slower than the margin only falls back on the sweep
 * (PROCESSING_SWEEP_SECONDS).
 */
#ifndef HARAVAN_INBOX_INBOX_H
#define HARAVAN_INBOX_INBOX_H

#include <stddef.h>

#include "core/db.h"

/* The channel on which stored events are announced (NOTIFY, in the
 * INSERT's own transaction); the processors LISTEN on it. */
#define INBOX_CHANNEL        "hv_events"
#define INBOX_WAKE_MS        50
#define INBOX_WAKE_MARGIN_MS 50

/* One verified delivery, as the Haravan side read it (haravan/webhook.h).
 * Every pointer is the caller's and is only read. */
typedef struct inbox_entry {
    const char *org_id; /* "" when unknown */
    const char *topic;
    const char *resource_id; /* "" when the body has none */
    const char *updated_at;  /* the body's updated_at as sent; "" when none */
    const char *dedupe_key;
    const char *unreadable;   /* NULL, or why the body can never be read (inbox_body_parse) */
    const char *headers_json; /* the headers worth keeping, as a JSON object */
    const char *notes;        /* NULL, or what intake had to repair */
    const char *body;
    size_t body_length;
    int is_test;
    int announce; /* notify the processors in the INSERT's transaction ("Waking") */
} inbox_entry;

/* Stores `entry`. Sets *event_id to the new row's id, or to 0 when an
 * identical delivery was already stored. Returns 0, or -1 when nothing can
 * be promised (database->error says why). */
int inbox_store(db *database, const inbox_entry *entry, long long *event_id);

#endif
