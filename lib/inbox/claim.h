/*
 * inbox_claim: the processors' statements on the inbox (hv_events), from
 * "what is due" to "finished".
 *
 * The CRM side (crm/processor.c) decides what an event means and writes
 * the CRM's rows; what taking an event, and marking it, promise is here:
 *   - inbox_due() lists due events whose resource has no older version
 *     pending; inbox_claim_resource() takes the resource's session
 *     advisory lock (never waiting), and inbox_still_first() asks again
 *     under it (inbox_claim_first(): both in one round trip), so two
 *     versions of one resource are never processed at once and the older
 *     goes first;
 *   - inbox_lock() is the event row's FOR UPDATE SKIP LOCKED inside the
 *     processing transaction: any number of processors, on any number of
 *     hosts, share the inbox and never process one event twice;
 *   - inbox_finish(), inbox_record_failure() and inbox_defer()
 *     touch only an event that is still pending;
 *   - inbox_reset() puts a finished event back for a replay, and notifies
 *     the processors in the same statement.
 * Every statement is parameterised; ids are passed as decimal text.
 *
 * Ownership: a returned PGresult is the caller's (PQclear()); text is
 * written into caller buffers.
 */
#ifndef HARAVAN_INBOX_CLAIM_H
#define HARAVAN_INBOX_CLAIM_H

#include <stddef.h>

#include "core/db.h"

/* The class (first key) of the advisory locks on resources; the second key
 * is hashtext() of the resource's name. */
#define INBOX_LOCK_CLASS "26742"

/* The columns of inbox_load()'s one row. */
enum {
    INBOX_LOAD_TOPIC,     /* text */
    INBOX_LOAD_ORG_ID,    /* "" when unknown */
    INBOX_LOAD_PENDING,   /* 't' when the event is pending */
    INBOX_LOAD_BODY,      /* bytea in text form: PQunescapeBytea() it */
    INBOX_LOAD_NOT_UTF8,  /* the headers intake stored as U+FFFD (INBOX_NOT_UTF8_KEY), or NULL */
    INBOX_LOAD_NOTE_FIRST /* 't' when the notes begin with `first_note` */
};

/* Reads event `id` for processing: one row (columns above), none when no
 * event has that id. `first_note` is a note the caller wants to know its
 * notes begin with (a wait it wrote earlier). NULL when the database
 * failed (database->error says why). */
PGresult *inbox_load(db *database, const char *id, const char *first_note);

/* Locks event `id` in the caller's transaction if it is still pending and
 * no other transaction holds it (FOR UPDATE SKIP LOCKED). Returns 1
 * locked, 0 not ours, -1 error. */
int inbox_lock(db *database, const char *id);

/* Marks a pending event finished: `status` (done, ignored, dead) with
 * `reason` and `notes` (either may be NULL), the attempt counted and
 * processed_at set. An event that is no longer pending is left as it is.
 * Returns 0, or -1 on error. */
int inbox_finish(db *database, const char *id, const char *status, const char *reason,
                 const char *notes);

/* Counts a failed attempt of a pending event with `reason`: due again
 * after an exponential backoff with jitter (1 s doubling, at most an
 * hour), or dead, with processed_at, once `max_attempts` are used. Sets
 * *dead. Returns 0, or -1 on error. */
int inbox_record_failure(db *database, const char *id, const char *reason, int max_attempts,
                         int *dead);

/* Leaves a pending event pending, due again in `wait_ms`, with `note` as
 * its notes: no attempt counted, no reason recorded (it waits for the
 * shop's rate bucket, or for a CRM row another transaction holds). Returns
 * 0, or -1. */
int inbox_defer(db *database, const char *id, long wait_ms, const char *note);

/* Up to INBOX_DUE_LIMIT events that are pending and due and have no older
 * version of their resource pending, by due time (events due at the same
 * instant in no particular order: the order that matters, a resource's
 * versions, is kept by the condition, not by the sort): two columns, the
 * id and the resource ("" when none). NULL on error.
 *
 * Why the limit is a constant and the sort has no tiebreak: so that the
 * plan walks the partial index of pending events in due order and stops
 * after INBOX_DUE_LIMIT rows, asking the "no older version" question of
 * those alone. With `ORDER BY next_attempt_at, id` (no index has both)
 * or a LIMIT given as a parameter (which a prepared statement's generic
 * plan cannot see), PostgreSQL sorted every pending event: 46 ms a call
 * with 20,000 pending, against 0.3 ms (docs/PERFORMANCE.md). */
#define INBOX_DUE_LIMIT "100"
PGresult *inbox_due(db *database);

/* Asked with the resource's lock held, so the answer is current: event
 * `id` is still pending and due, and no older version of its resource is
 * pending. 1 yes, 0 no, -1 error. */
int inbox_still_first(db *database, const char *id);

/* A resource's session advisory lock (INBOX_LOCK_CLASS, hashtext(name)),
 * and the session that holds it. */
typedef struct inbox_claim {
    const char *resource; /* "" when the event has none; the caller's */
    PGconn *connection;   /* the session that holds the lock */
    int backend;
} inbox_claim;

/* Takes the resource's lock without waiting. 1 taken (or no resource),
 * 0 another session has it, -1 error. */
int inbox_claim_resource(db *database, inbox_claim *claim);

/* Lets the resource go, unless the session that held it is gone (a lost
 * connection took the lock with it, and a new session holds nothing). */
void inbox_release_resource(db *database, const inbox_claim *claim);

/* inbox_claim_resource() and inbox_still_first() in one round trip: the
 * resource's lock (never waiting) and whether event `id` is still first.
 * Asking both in one statement is as safe as asking the second under the
 * lock: the statement's snapshot is taken before the lock, and every
 * version another session is processing, or processed but not yet
 * committed, is still pending in it, so the answer can only be "not yet"
 * too often, never "first" too soon (the event's own status is asked
 * again when it is loaded, and under its row lock). Returns 1 with the
 * lock held, 0 not ours (nothing held), -1 error (nothing held). */
int inbox_claim_first(db *database, const char *id, inbox_claim *claim);

typedef enum inbox_reset_result {
    INBOX_RESET_DONE,         /* pending again, and the processors notified */
    INBOX_RESET_NOT_FINISHED, /* pending or being processed: nothing changed */
    INBOX_RESET_NO_SUCH_EVENT,
    INBOX_RESET_FAILED, /* the database failed; nothing changed */
} inbox_reset_result;

/* Puts a finished event (done, ignored or dead) back to pending with its
 * attempts and reason cleared, due in `due_in_seconds`, its resource named
 * (events finished before sql/008 have none), and the processors notified
 * (INBOX_CHANNEL) in the same statement. Writes the resource ("" when
 * none) into `resource`. */
inbox_reset_result inbox_reset(db *database, long long event_id, int due_in_seconds, char *resource,
                               size_t resource_size);

/* Seconds until the earliest pending event is due, or `if_due_now` (a
 * number as text) when one is due already. Returns 1 with *seconds set,
 * 0 when nothing is pending, -1 error. */
int inbox_seconds_to_next_due(db *database, const char *if_due_now, double *seconds);

#endif
