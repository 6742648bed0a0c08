/*
 * crm_processor: turns one stored Haravan event into CRM records, exactly
 * once.
 *
 * Processing an event is one savepoint in a batch's transaction: the
 * event row is locked with `FOR UPDATE SKIP LOCKED` (so any number of
 * processors, on any number of hosts, can share the inbox and never
 * process one event twice), the customer, order, items, payments and
 * crm_events rows are written, the event is marked done, and all of it
 * commits together or not at all.
 *
 * Batches: crm_process_due applies up to CRM_PROCESSOR_BATCH claimed
 * events in one transaction, each under its own savepoint, so that one
 * commit (one WAL flush, the largest fixed cost of an event) finishes them
 * all. An event that fails is rolled back to its savepoint and its failed
 * attempt is recorded in the same transaction: it never fails or loses the
 * others of its batch. Only a transaction lost whole (its connection, or
 * its COMMIT) loses the batch's work, and then every event of it is still
 * pending, none counted, and is taken again.
 *
 * What may be slow or fail outside our control (resolving an order's staff
 * member through Haravan's API) happens before the transaction opens, so
 * no transaction is ever held across a network call.
 *
 * Failures:
 *   - a unique violation (two events creating one person at once) or a
 *     deadlock (db_retryable): the event is run again from its savepoint
 *     at once, a few times; a connection lost in the middle: the batch is
 *     lost whole, its events still pending (above);
 *   - a CRM row the event must write, held by another transaction for more
 *     than 200 ms (the batch's lock_timeout: someone editing that order in
 *     the CRM; our own transactions hold a row for milliseconds): the event
 *     is rolled back to its savepoint and is due again in a second, no
 *     attempt counted, noted as waiting; the rest of its batch goes on
 *     (without it, one held row stopped every event of its batch);
 *   - a payload that cannot be read (a body intake's parser refuses, a
 *     body that does not fit its topic, a field the record cannot be right
 *     without: crm/haravan_payload.h): the event is dead at once with the
 *     reason. The same bytes through the same code give the same answer;
 *     after a fix, `haravan-ctl replay`. Descriptive fields that cannot be
 *     read, and text the parser repaired, are noted on an event that is
 *     done;
 *   - anything else (database, out of memory): the attempt is counted and
 *     the event is retried later with exponential backoff and jitter, and
 *     is dead with the last reason after CRM_PROCESSOR_MAX_ATTEMPTS.
 * A failed attempt always records a reason, and a dead event its
 * processed_at.
 *
 * Claiming (crm_process_due): two versions of one resource (one order, one
 * customer: same org, same kind, same Haravan id) are never processed at
 * the same time, and the older pending version goes first. A processor
 * takes an event only while holding a session advisory lock on its
 * resource (pg_try_advisory_lock: a resource another processor holds is
 * skipped, not waited for) and only when, asked again under that lock, no
 * older version of the resource is pending. The lock lives with the
 * session: a processor killed mid-work, or its lost connection, frees the
 * resource at once, and its event, never marked, is still pending. An
 * older version that waits for a retry holds its newer ones back until it
 * is done or dead; a dead one holds nothing back.
 */
#ifndef HARAVAN_CRM_PROCESSOR_H
#define HARAVAN_CRM_PROCESSOR_H

#include <stddef.h>

#include "core/db.h"

#define CRM_PROCESSOR_MAX_ATTEMPTS 8
/* Events applied in one transaction. Each savepoint that writes takes a
 * subtransaction id, and PostgreSQL keeps 64 of them per backend in shared
 * memory before every other session's snapshots get slower: well under. */
#define CRM_PROCESSOR_BATCH 16

/* The class of the processors' duty locks (cgi/haravan-fcgi/processing.c:
 * the token refresh duty is (26743, 0)); the resources' locks are the
 * inbox's (inbox/claim.h, INBOX_LOCK_CLASS). */
#define CRM_PROCESSOR_DUTY_CLASS "26743"

/* Resolves a Haravan staff id to an email, outside any transaction.
 * Returns 1 with `email` set, 0 when there is no usable answer (with a
 * reason for the event's notes), -1 when the database failed (the event
 * is tried again later), or CRM_STAFF_NOT_NOW with *retry_after_ms set
 * when the answer must wait (the shop's API rate limit): the lookup never
 * sleeps, and the event is left pending until then without counting an
 * attempt or recording a failure (CRM_OUTCOME_WAITING).
 * haravan/staff.h's hv_staff_lookup is the one. */
#define CRM_STAFF_NOT_NOW 2
typedef int (*crm_staff_lookup)(void *context, db *database, const char *org_id,
                                const char *staff_id, char *email, size_t email_size, char *reason,
                                size_t reason_size, long *retry_after_ms);

/* Applies an event of a topic about the shop's connection rather than the
 * CRM's records (app/uninstalled: haravan/uninstall.h is the one), inside
 * the event's savepoint, so that what it changes and the event's "done"
 * commit together. It only touches the database (no network). Returns 0,
 * with `note` (may stay "") kept in the event's notes, or -1 when the
 * database failed (the attempt is counted and the event retried). */
typedef int (*crm_shop_event)(void *context, db *database, const char *event_id, const char *topic,
                              const char *org_id, char *note, size_t note_size);

typedef struct crm_processor {
    db *database;
    crm_staff_lookup staff_lookup; /* NULL: every executor is the default owner */
    void *staff_context;
    /* The topics shop_event applies (NULL-terminated; NULL: none, and
     * such events are ignored like any topic the CRM does not use). */
    const char *const *shop_topics;
    crm_shop_event shop_event;
    void *shop_context;
} crm_processor;

typedef enum crm_outcome {
    CRM_OUTCOME_DONE,    /* processed and committed */
    CRM_OUTCOME_IGNORED, /* a topic the CRM does not use */
    CRM_OUTCOME_SKIPPED, /* not pending, or being processed elsewhere */
    CRM_OUTCOME_RETRY,   /* failed; will be retried later */
    CRM_OUTCOME_DEAD,    /* failed for good; reason recorded */
    CRM_OUTCOME_WAITING, /* waits for the shop's API rate limit: still pending, due
                            again when the bucket has room; no attempt counted */
} crm_outcome;

/* Processes event `event_id`. Returns 0 with *outcome set, or -1 when even
 * the failure could not be recorded (the database is gone; the event stays
 * pending and is picked up later). */
int crm_process_event(crm_processor *processor, long long event_id, crm_outcome *outcome);

typedef enum crm_replay_result {
    CRM_REPLAY_PROCESSED,     /* reset and processed; *outcome says how it went */
    CRM_REPLAY_NO_SUCH_EVENT, /* no event has that id */
    CRM_REPLAY_STILL_PENDING, /* pending or being processed: nothing to replay yet */
    CRM_REPLAY_UNAVAILABLE,   /* the database failed before the reset; nothing changed */
    CRM_REPLAY_DEFERRED,      /* reset, but processing could not be recorded, or another
                                 process kept its resource busy: the event is pending and
                                 the processors take it when the lease runs out */
    CRM_REPLAY_QUEUED,        /* reset, due at once, and the processors notified
                                 (crm_replay_queue) */
} crm_replay_result;

/* Puts a finished event (done, ignored or dead) back to pending with its
 * attempts reset, and processes it at once, holding its resource's lock
 * like a processor (waiting up to CRM_REPLAY_LOCK_WAIT_MS for a processor
 * busy with another version of it). The reset leases the event to the
 * caller for CRM_REPLAY_LEASE_SECONDS: the processors do not claim it
 * meanwhile, and if the caller dies after the reset, the event is still
 * picked up when the lease runs out. `haravan-ctl replay` uses this. */
#define CRM_REPLAY_LEASE_SECONDS 60
#define CRM_REPLAY_LOCK_WAIT_MS  10000
crm_replay_result crm_replay_event(crm_processor *processor, long long event_id,
                                   crm_outcome *outcome);

/* The same reset, due at once, with the processors notified; nothing is
 * processed here. POST /api/haravan/events/{id}/replay uses this: a
 * process that answers HTTP never processes. Returns CRM_REPLAY_QUEUED,
 * _NO_SUCH_EVENT, _STILL_PENDING or _UNAVAILABLE. */
crm_replay_result crm_replay_queue(db *database, long long event_id);

/* Claims and processes the events that are due (pending, next attempt
 * reached), oldest first, looking at up to `limit` of them (at most
 * INBOX_DUE_LIMIT, inbox/claim.h); one whose
 * resource another process holds, or behind an older pending version, is
 * left. Returns how many it processed (0: nothing it could take), or -1
 * when the database failed before any. */
int crm_process_due(crm_processor *processor, int limit);

/* Readies a session to process events: run it on every new session
 * (db's on_connect) of a process that calls crm_process_due or
 * crm_process_event. It rules out sequential scans where an index can
 * serve (enable_seqscan = off). Statements are parsed once per session
 * (core/db.h), and after five runs PostgreSQL may keep one generic plan
 * for a statement, chosen from the statistics of that moment: made while
 * orders was still empty (a new install, a backlog drained right after
 * it), it was a sequential scan of orders for every order, kept as the
 * table grew until the next ANALYZE; processors drained 20,000 orders at
 * 448 a second. Processing's statements are all lookups by a key an index
 * holds, so ruling the sequential scan out costs nothing where the
 * statistics are right: 1,688 a second. (Planning every run for its own
 * values, plan_cache_mode = force_custom_plan, also avoids it, at 936 a
 * second: planning is then half of PostgreSQL's work.) docs/PERFORMANCE.md
 * has the runs. Returns 0, or -1 with database->error set. */
int crm_processor_prepare_session(db *database);

/* The human words for an outcome. */
const char *crm_outcome_name(crm_outcome outcome);

#endif
