/*
 * crm_processor: events in batches, one savepoint each. See processor.h for the
 * failure rules and why the staff lookup happens before the transaction.
 */
#define _POSIX_C_SOURCE 200809L
#include "crm/processor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "core/buffer.h"
#include "core/sql_array.h"
#include "crm/customer.h"
#include "crm/order.h"
#include "crm/haravan_field.h"
#include "crm/haravan_payload.h"
#include "inbox/body.h"
#include "inbox/claim.h"

#define CONFLICT_RETRIES 4

/* The note on an event left pending for the shop's API rate limit, and
 * the one it keeps once processed: the wait is said, never a failure. */
#define WAITING_NOTE "waiting for the shop's Haravan API rate limit"
#define WAITED_NOTE  "waited for the shop's Haravan API rate limit"
/* A CRM row the event must write is held by another transaction (a person
 * editing it in the CRM, a long job): the event waits, without counting an
 * attempt, instead of holding up the rest of its batch. */
#define ROW_LOCK_TIMEOUT            "200ms"
#define ROW_WAIT_MS                 1000
#define ROW_WAITING_NOTE            "waiting for a CRM row another transaction holds"
#define SQLSTATE_LOCK_NOT_AVAILABLE "55P03"
/* executor()'s answer when the staff lookup said "not now". */
#define EXECUTOR_NOT_NOW -2

typedef struct event {
    long long id;
    char id_text[32];
    char topic[128];
    char org_id[64];
    cJSON *json;
    char parse_error[160]; /* why json is NULL */
    char notes[2048];
    long wait_ms; /* CRM_OUTCOME_WAITING: how long */
} event;

/* What a transaction needs that was settled before it opened. */
typedef struct context {
    long long owner_id;    /* for customers created here */
    long long executor_id; /* for orders */
} context;

/* ---- event rows ---- */

/* Notes are cut at a character, never inside one: PostgreSQL refuses
 * text that is not UTF-8, and the event would then fail for a note. */
static void add_note(event *e, const char *note)
{
    if (note == NULL || note[0] == '\0')
        return;
    size_t used = strlen(e->notes);
    if (used + 1 >= sizeof e->notes)
        return;
    if (used > 0) {
        crm_copy_utf8(e->notes + used, sizeof e->notes - used, "; ");
        used = strlen(e->notes);
    }
    crm_copy_utf8(e->notes + used, sizeof e->notes - used, note);
}

/* The body through the parser intake used (inbox/body.h), so that
 * processing and replay agree with intake on what can be read: a body it
 * refused stays refused, with the same reason. What the parser repaired
 * (bytes that are not UTF-8, \u0000 escapes, both now U+FFFD) is mapped as
 * repaired and said in the notes; the stored body is never changed.
 * Returns 0, or -1 when memory ran out (no verdict: try again). */
static int parse_body(event *e, const char *escaped)
{
    size_t length = 0;
    unsigned char *body = PQunescapeBytea((const unsigned char *)escaped, &length);
    if (body == NULL)
        return -1;
    json_repairs repairs;
    int parsed = inbox_body_parse((const char *)body, length, &e->json, &repairs, e->parse_error,
                                  sizeof e->parse_error);
    PQfreemem(body);
    if (parsed != 0 || e->json == NULL)
        return parsed;
    char note[256];
    inbox_body_repairs_note(&repairs, note, sizeof note);
    add_note(e, note);
    if (repairs.invalid_utf8 > 0 || repairs.nul_escapes > 0) {
        crm_report report = {.reason = "", .notes = ""};
        crm_report_replacements(&report, e->json);
        add_note(e, report.notes);
    }
    return 0;
}

static int load(db *database, long long id, event *e, int *pending)
{
    memset(e, 0, sizeof *e);
    e->id = id;
    snprintf(e->id_text, sizeof e->id_text, "%lld", id);
    PGresult *result = inbox_load(database, e->id_text, WAITING_NOTE);
    if (result == NULL)
        return -1;
    *pending = PQntuples(result) > 0 && PQgetvalue(result, 0, INBOX_LOAD_PENDING)[0] == 't';
    int parsed = 0;
    if (*pending) {
        snprintf(e->topic, sizeof e->topic, "%s", PQgetvalue(result, 0, INBOX_LOAD_TOPIC));
        snprintf(e->org_id, sizeof e->org_id, "%s", PQgetvalue(result, 0, INBOX_LOAD_ORG_ID));
        /* Intake's note on repaired headers, again: the notes written at
         * the end of processing replace what intake wrote. */
        char note[512];
        inbox_header_note(PQgetvalue(result, 0, INBOX_LOAD_NOT_UTF8), note, sizeof note);
        add_note(e, note);
        if (PQgetvalue(result, 0, INBOX_LOAD_NOTE_FIRST)[0] == 't')
            add_note(e, WAITED_NOTE);
        parsed = parse_body(e, PQgetvalue(result, 0, INBOX_LOAD_BODY));
    }
    PQclear(result);
    if (parsed != 0)
        snprintf(database->error, sizeof database->error, "out of memory reading event %lld", id);
    return parsed;
}

static int finish(db *database, const event *e, const char *status, const char *reason)
{
    return inbox_finish(database, e->id_text, status, reason,
                        e->notes[0] != '\0' ? e->notes : NULL);
}

/* Counts a failed attempt: retried later with backoff and jitter, or dead
 * after the last one. */
static int record_failure(db *database, const event *e, const char *reason, crm_outcome *outcome)
{
    int dead = 0;
    if (inbox_record_failure(database, e->id_text, reason, CRM_PROCESSOR_MAX_ATTEMPTS, &dead) != 0)
        return -1;
    *outcome = dead ? CRM_OUTCOME_DEAD : CRM_OUTCOME_RETRY;
    return 0;
}

/* Leaves the event pending until the shop's bucket has room: no attempt
 * counted, no reason recorded, only a note saying why it waits. */
static int wait_for_bucket(db *database, const event *e)
{
    return inbox_defer(database, e->id_text, e->wait_ms, WAITING_NOTE);
}

/* ---- owners ---- */

static long long user_by_email(db *database, const char *email)
{
    const char *values[] = {email};
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "SELECT id FROM crm_users WHERE lower(email) = lower(btrim($1))"
                                " AND active",
                                1, values, NULL, NULL);
    if (result == NULL)
        return -1;
    long long id = PQntuples(result) > 0 ? strtoll(PQgetvalue(result, 0, 0), NULL, 10) : 0;
    PQclear(result);
    return id;
}

static long long default_owner(db *database, event *e)
{
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "SELECT u.id FROM hv_settings s JOIN crm_users u"
                                " ON lower(u.email) = lower(s.value) AND u.active"
                                " WHERE s.name = 'default_owner'",
                                0, NULL, NULL, NULL);
    if (result == NULL)
        return -1;
    long long id = PQntuples(result) > 0 ? strtoll(PQgetvalue(result, 0, 0), NULL, 10) : 0;
    PQclear(result);
    if (id == 0)
        add_note(e, "no default owner set");
    return id;
}

static long long executor(crm_processor *processor, event *e, const char *staff_id)
{
    char email[320] = "";
    char reason[256] = "";
    char note[512];
    if (staff_id[0] == '\0') {
        add_note(e, "order has no staff member: executor is the default owner");
        return default_owner(processor->database, e);
    }
    int found = 0;
    if (processor->staff_lookup != NULL)
        found = processor->staff_lookup(processor->staff_context, processor->database, e->org_id,
                                        staff_id, email, sizeof email, reason, sizeof reason,
                                        &e->wait_ms);
    else
        snprintf(reason, sizeof reason, "no staff lookup configured");
    if (found == CRM_STAFF_NOT_NOW)
        return EXECUTOR_NOT_NOW;
    if (found < 0)
        return -1;
    long long id = found == 1 ? user_by_email(processor->database, email) : 0;
    if (id < 0)
        return -1;
    if (id > 0)
        return id;
    if (found != 1)
        snprintf(note, sizeof note, "staff %s: %s; executor is the default owner", staff_id,
                 reason);
    else
        snprintf(note, sizeof note,
                 "staff %s is %s, who is not a CRM user; executor is the default owner", staff_id,
                 email);
    add_note(e, note);
    return default_owner(processor->database, e);
}

/* ---- inside the transaction ---- */

/* The automation events of one change, in one statement: `types`, in
 * their order (the CRM's automation reads them by id: created before
 * paid), each notified on crm_events in the same order. */
static int emit_all(db *database, const event *e, const char *const *types, size_t count,
                    long long entity_id, const char *haravan_id)
{
    if (count == 0)
        return 0;
    char entity[32];
    snprintf(entity, sizeof entity, "%lld", entity_id);
    buffer array = BUFFER_INIT;
    if (sql_text_array(&array, types, count) != 0) {
        buffer_free(&array);
        snprintf(database->error, sizeof database->error, "out of memory writing crm_events");
        return -1;
    }
    /* A change the catch-up engine brought says so: "catchup":
     * "import" or "reconcile" (a webhook's has no such member). */
    const char *slash = strchr(e->topic, '/');
    const char *catchup =
        slash != NULL && (strcmp(slash, "/import") == 0 || strcmp(slash, "/reconcile") == 0)
            ? slash + 1
            : NULL;
    const char *values[] = {buffer_text(&array), entity,     e->org_id,
                            haravan_id,          e->id_text, catchup};
    PGresult *result =
        db_query(database, DB_ONCE,
                 "WITH inserted AS (INSERT INTO crm_events (type, entity_id, payload)"
                 " SELECT type, $2::bigint, jsonb_build_object('id', $2::bigint, 'haravan_org_id',"
                 " $3::text, 'haravan_id', $4::text, 'hv_event_id', $5::bigint)"
                 " || CASE WHEN $6::text IS NULL THEN '{}'::jsonb"
                 " ELSE jsonb_build_object('catchup', $6::text) END"
                 " FROM unnest($1::text[]) WITH ORDINALITY AS event(type, place) ORDER BY place"
                 " RETURNING id)"
                 " SELECT pg_notify('crm_events', id::text) FROM inserted ORDER BY id",
                 6, values, NULL, NULL);
    buffer_free(&array);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}

static int emit(db *database, const event *e, const char *type, long long entity_id,
                const char *haravan_id)
{
    return emit_all(database, e, &type, 1, entity_id, haravan_id);
}

/* The id of the source for `key`, 0 when there is none, -1 on error. */
static long long find_source(db *database, const char *key)
{
    const char *values[] = {key};
    PGresult *result =
        db_query(database, DB_ONCE, "SELECT id FROM order_sources WHERE haravan_channel = $1", 1,
                 values, NULL, NULL);
    if (result == NULL)
        return -1;
    long long id = PQntuples(result) > 0 ? strtoll(PQgetvalue(result, 0, 0), NULL, 10) : 0;
    PQclear(result);
    return id;
}

/* The order source for a channel; a channel not seen before gets a source
 * named after it, which the merchant can rename.
 *
 * When another transaction adds the same channel at the same moment, the
 * INSERT waits for it to commit and then does nothing, and the SELECT of
 * that same statement, whose snapshot was taken before that commit, sees
 * no row either. A new statement has a new snapshot (READ COMMITTED): it
 * sees the other's row. */
static long long source_for(db *database, const char *channel)
{
    const char *key = channel != NULL ? channel : "";
    const char *name = channel != NULL ? channel : "Haravan";
    const char *values[] = {key, name};
    PGresult *result = db_query(database, DB_ONCE,
                                "WITH added AS (INSERT INTO order_sources (name, haravan_channel)"
                                " VALUES ($2, $1) ON CONFLICT (haravan_channel) DO NOTHING"
                                " RETURNING id)"
                                " SELECT id FROM added UNION ALL"
                                " SELECT id FROM order_sources WHERE haravan_channel = $1",
                                2, values, NULL, NULL);
    if (result == NULL)
        return -1;
    long long id = PQntuples(result) > 0 ? strtoll(PQgetvalue(result, 0, 0), NULL, 10) : 0;
    PQclear(result);
    if (id == 0)
        id = find_source(database, key);
    if (id == 0) {
        snprintf(database->error, sizeof database->error,
                 "the order source for channel '%.100s' was neither added nor found", key);
        return -1;
    }
    return id;
}

static int apply_customer(db *database, event *e, const crm_customer_input *input,
                          long long owner_id, long long *customer_id)
{
    crm_customer_result result;
    if (crm_customer_upsert(database, input, owner_id, &result) != 0)
        return -1;
    add_note(e, result.note);
    *customer_id = result.id;
    if (result.created)
        return emit(database, e, "customer.created", result.id, input->haravan_id);
    if (result.changed)
        return emit(database, e, "customer.updated", result.id, input->haravan_id);
    return 0;
}

static int apply_order_events(db *database, const event *e, const crm_order_input *input,
                              const crm_order_result *result)
{
    const char *types[4];
    size_t count = 0;
    if (result->created)
        types[count++] = "order.created";
    if (!result->created && (result->changed || result->payments_added > 0))
        types[count++] = "order.updated";
    if (result->became_paid)
        types[count++] = "order.paid";
    if (result->became_cancelled)
        types[count++] = "order.cancelled";
    return emit_all(database, e, types, count, result->id, input->haravan_id);
}

static int apply_order(db *database, event *e, const crm_order_payload *work,
                       const context *settled)
{
    long long customer_id = 0;
    if (work->has_customer &&
        apply_customer(database, e, &work->customer, settled->executor_id, &customer_id) != 0)
        return -1;
    long long source_id = source_for(database, work->order.channel);
    if (source_id < 0)
        return -1;
    crm_order_result result;
    if (crm_order_upsert(database, &work->order, customer_id, settled->executor_id, source_id,
                         &result) != 0)
        return -1;
    if (result.older)
        add_note(e, "an older version than the CRM holds: nothing changed");
    return apply_order_events(database, e, &work->order, &result);
}

/* Why the attempt failed, copied into `out` (the next query clears
 * db->error), and never empty: a reason that says nothing cannot be acted
 * on. */
static const char *failure_reason(const db *database, char *out, size_t size)
{
    snprintf(out, size, "%s",
             database->error[0] != '\0' ? database->error
                                        : "processing failed without an error from the database");
    return out;
}

/* ---- work: what an event means, settled before any transaction ---- */

typedef enum work_kind {
    WORK_NONE,     /* nothing to apply: the outcome is decided */
    WORK_CUSTOMER, /* apply `customer` with settled.owner_id */
    WORK_ORDER,    /* apply `order` with settled.executor_id */
    WORK_SHOP,     /* apply through processor->shop_event */
} work_kind;

/* One claimed event on its way through: loaded and read outside any
 * transaction (the staff lookup may call Haravan), then applied inside
 * the batch's. */
typedef struct work {
    event e;
    work_kind kind;
    crm_customer_input customer;
    crm_order_payload order; /* WORK_ORDER: freed by work_free() */
    context settled;
    crm_outcome outcome;
    inbox_claim claim;
    char resource[256];
} work;

static void work_free(work *w)
{
    if (w->kind == WORK_ORDER)
        crm_payload_order_free(&w->order);
    w->kind = WORK_NONE;
    cJSON_Delete(w->e.json);
    w->e.json = NULL;
}

/* A payload that cannot be read is dead at once: the same bytes through
 * the same code give the same answer. What was read but left empty is in
 * the notes either way. */
static int refuse(event *e, const crm_report *report, crm_outcome *outcome, char *reason,
                  size_t reason_size)
{
    add_note(e, report->notes);
    snprintf(reason, reason_size, "%s", report->reason);
    *outcome = CRM_OUTCOME_DEAD;
    return 0;
}

static int prepare_customer(crm_processor *processor, work *w, char *reason, size_t reason_size)
{
    crm_report report = {.reason = "", .notes = ""};
    if (crm_payload_customer(w->e.json, w->e.org_id, &w->customer, &report) != 0)
        return refuse(&w->e, &report, &w->outcome, reason, reason_size);
    add_note(&w->e, report.notes);
    w->settled.owner_id = default_owner(processor->database, &w->e);
    if (w->settled.owner_id < 0)
        return -1;
    w->kind = WORK_CUSTOMER;
    return 0;
}

static int prepare_order(crm_processor *processor, work *w, char *reason, size_t reason_size)
{
    crm_report report = {.reason = "", .notes = ""};
    if (crm_payload_order(w->e.json, w->e.topic, w->e.org_id, &w->order, &report) != 0) {
        crm_payload_order_free(&w->order);
        return refuse(&w->e, &report, &w->outcome, reason, reason_size);
    }
    w->kind = WORK_ORDER; /* owns w->order from here */
    add_note(&w->e, report.notes);
    w->settled.executor_id = executor(processor, &w->e, w->order.staff_id);
    if (w->settled.executor_id == EXECUTOR_NOT_NOW) {
        work_free(w);
        w->outcome = CRM_OUTCOME_WAITING;
        return 0;
    }
    return w->settled.executor_id < 0 ? -1 : 0;
}

/* ---- the batch: several events, one transaction, one savepoint each ---- */

/* An event about the shop's connection, through the hook the glue set. */
static int apply_shop_event(crm_processor *processor, event *e)
{
    char note[512] = "";
    if (processor->shop_event(processor->shop_context, processor->database, e->id_text, e->topic,
                              e->org_id, note, sizeof note) != 0)
        return -1;
    add_note(e, note);
    return 0;
}

/* Applies one event's work and marks it done, inside the batch's
 * transaction. 1 when the event was not ours (another process has its
 * row, or finished it), 0 done, -1 failed. */
static int apply_work(crm_processor *processor, work *w)
{
    db *database = processor->database;
    int locked = inbox_lock(database, w->e.id_text);
    if (locked <= 0)
        return locked == 0 ? 1 : -1;
    long long customer_id = 0;
    int applied = 0;
    if (w->kind == WORK_SHOP)
        applied = apply_shop_event(processor, &w->e);
    else if (w->kind == WORK_CUSTOMER)
        applied = apply_customer(database, &w->e, &w->customer, w->settled.owner_id, &customer_id);
    else
        applied = apply_order(database, &w->e, &w->order, &w->settled);
    if (applied != 0 || finish(database, &w->e, "done", NULL) != 0)
        return -1;
    return 0;
}

/* One event of the batch under its own savepoint: a conflict (two events
 * creating one person at once, a deadlock) is run again from the
 * savepoint a few times; any other failure is rolled back to it and
 * counted on that event alone (inbox_record_failure, in the same
 * transaction), so the others of the batch commit. Returns 0, or -1 when
 * the transaction itself is lost (the connection, or a failure that even
 * the rollback to the savepoint could not undo). */
static int apply_in_savepoint(crm_processor *processor, work *w)
{
    db *database = processor->database;
    char notes_before[sizeof w->e.notes];
    memcpy(notes_before, w->e.notes, sizeof notes_before);
    for (int attempt = 0;; attempt++) {
        memcpy(w->e.notes, notes_before, sizeof notes_before);
        if (db_command(database, "SAVEPOINT crm_event") != 0)
            return -1;
        int applied = apply_work(processor, w);
        if (applied >= 0) {
            w->outcome = applied == 0 ? CRM_OUTCOME_DONE : CRM_OUTCOME_SKIPPED;
            return db_command(database, "RELEASE SAVEPOINT crm_event");
        }
        char failure[sizeof database->error];
        int retryable = db_retryable(database);
        int row_held = strcmp(database->sqlstate, SQLSTATE_LOCK_NOT_AVAILABLE) == 0;
        failure_reason(database, failure, sizeof failure);
        if (database->connection == NULL ||
            db_command(database, "ROLLBACK TO SAVEPOINT crm_event") != 0)
            return -1;
        if (retryable && attempt + 1 < CONFLICT_RETRIES)
            continue;
        memcpy(w->e.notes, notes_before, sizeof notes_before);
        if (row_held) {
            w->outcome = CRM_OUTCOME_WAITING;
            if (inbox_defer(database, w->e.id_text, ROW_WAIT_MS, ROW_WAITING_NOTE) != 0)
                return -1;
            return db_command(database, "RELEASE SAVEPOINT crm_event");
        }
        if (record_failure(database, &w->e, failure, &w->outcome) != 0)
            return -1;
        return db_command(database, "RELEASE SAVEPOINT crm_event");
    }
}

typedef struct batch {
    crm_processor *processor;
    work *items;
    int count;
} batch;

static int batch_body(db *database, void *argument)
{
    batch *b = argument;
    if (db_command(database, "SET LOCAL lock_timeout = '" ROW_LOCK_TIMEOUT "'") != 0)
        return -1;
    for (int i = 0; i < b->count; i++)
        if (b->items[i].kind != WORK_NONE && apply_in_savepoint(b->processor, &b->items[i]) != 0)
            return -1;
    return 0;
}

/* Applies every item with work in one transaction, so that one commit
 * (one WAL flush) finishes them all. Returns 0 with each item's outcome
 * set, or -1 when the transaction was lost: nothing of it happened, every
 * event is still pending and is taken again later. */
static int apply_batch(crm_processor *processor, work *items, int count)
{
    batch b = {processor, items, count};
    int result = db_transaction(processor->database, batch_body, &b);
    for (int i = 0; i < count; i++)
        if (items[i].kind != WORK_NONE && result != 0)
            items[i].outcome = CRM_OUTCOME_SKIPPED;
    return result == 0 ? 0 : -1;
}

/* ---- the public functions ---- */

static int is_topic(const char *topic, const char *const *topics)
{
    for (size_t i = 0; topics[i] != NULL; i++)
        if (strcmp(topic, topics[i]) == 0)
            return 1;
    return 0;
}

/* Reads what event `w` means. Returns 0 with w->kind set (work to apply)
 * or with w->outcome decided (ignored, dead, waiting) and `reason`; -1
 * when the database failed on the way (the attempt is counted). */
static int prepare(crm_processor *processor, work *w, char *reason, size_t reason_size)
{
    /* The catch-up engine's topics (haravan/catchup.h) are processed as
     * customers/update and orders/updated are. */
    static const char *const customer_topics[] = {"customers/create", "customers/update",
                                                  "customers/import", "customers/reconcile", NULL};
    static const char *const order_topics[] = {
        "orders/create", "orders/updated",   "orders/paid", "orders/cancelled",
        "orders/import", "orders/reconcile", NULL};
    event *e = &w->e;
    if (is_topic(e->topic, customer_topics) || is_topic(e->topic, order_topics)) {
        if (e->json == NULL) {
            snprintf(reason, reason_size, "%s", e->parse_error);
            w->outcome = CRM_OUTCOME_DEAD;
            return 0;
        }
        int customer = is_topic(e->topic, customer_topics);
        /* The topic header is not signed: a body that is not what its topic
         * says is kept for a person to look at, and makes no CRM rows. */
        crm_report report = {.reason = "", .notes = ""};
        if (!crm_payload_fits(e->json, customer ? CRM_PAYLOAD_CUSTOMER : CRM_PAYLOAD_ORDER,
                              e->topic, &report))
            return refuse(e, &report, &w->outcome, reason, reason_size);
        return customer ? prepare_customer(processor, w, reason, reason_size)
                        : prepare_order(processor, w, reason, reason_size);
    }
    if (processor->shop_topics != NULL && processor->shop_event != NULL &&
        is_topic(e->topic, processor->shop_topics)) {
        w->kind = WORK_SHOP;
        return 0;
    }
    snprintf(reason, reason_size, "topic %s is not used by the CRM", e->topic);
    w->outcome = CRM_OUTCOME_IGNORED;
    return 0;
}

/* Loads and reads event `id` into `w`, and records at once the outcome of
 * an event that needs no CRM transaction (ignored, dead, waiting, or the
 * failure of its preparation). Returns 0: w->kind says whether work is
 * left for a batch, else w->outcome is final (SKIPPED: not pending); -1
 * when not even that could be recorded (the event stays pending). */
static int take(crm_processor *processor, long long id, work *w)
{
    int pending = 0;
    db *database = processor->database;
    memset(w, 0, sizeof *w);
    w->outcome = CRM_OUTCOME_SKIPPED;
    if (load(database, id, &w->e, &pending) != 0)
        return -1;
    if (!pending)
        return 0;
    char reason[512] = "";
    char failure[sizeof database->error];
    int result = prepare(processor, w, reason, sizeof reason);
    if (result == 0 && w->kind != WORK_NONE)
        return 0;
    if (result == 0 && w->outcome == CRM_OUTCOME_DEAD && reason[0] == '\0')
        snprintf(reason, sizeof reason, "the event cannot be processed (no reason was given)");
    if (result != 0) {
        work_free(w);
        result = record_failure(database, &w->e, failure_reason(database, failure, sizeof failure),
                                &w->outcome);
    } else if (w->outcome == CRM_OUTCOME_IGNORED) {
        result = finish(database, &w->e, "ignored", reason);
    } else if (w->outcome == CRM_OUTCOME_DEAD) {
        result = finish(database, &w->e, "dead", reason);
    } else if (w->outcome == CRM_OUTCOME_WAITING) {
        result = wait_for_bucket(database, &w->e);
    }
    return result;
}

int crm_process_event(crm_processor *processor, long long event_id, crm_outcome *outcome)
{
    work *w = malloc(sizeof *w);
    if (w == NULL) {
        snprintf(processor->database->error, sizeof processor->database->error,
                 "out of memory processing event %lld", event_id);
        return -1;
    }
    int result = take(processor, event_id, w);
    if (result == 0 && w->kind != WORK_NONE)
        result = apply_batch(processor, w, 1);
    *outcome = w->outcome;
    work_free(w);
    free(w);
    return result;
}

/* ---- claiming: one version of a resource at a time, oldest first ---- */

/* Claims event `id` of `resource` into `w`: its resource's lock, the
 * check that it is still first, and take(). Returns 1 claimed (w->kind
 * says whether work is left; the lock is held until release_work()), 0
 * not ours now (nothing held), -1 the database failed (nothing held). */
static int claim(crm_processor *processor, const char *id, const char *resource, work *w)
{
    db *database = processor->database;
    inbox_claim c = {.resource = resource, .connection = NULL, .backend = 0};
    int first = inbox_claim_first(database, id, &c);
    if (first <= 0)
        return first;
    if (take(processor, strtoll(id, NULL, 10), w) != 0)
        first = -1;
    if (first != 1) {
        inbox_release_resource(database, &c);
        return first;
    }
    snprintf(w->resource, sizeof w->resource, "%s", resource);
    w->claim = c;
    w->claim.resource = w->resource;
    return 1;
}

static void release_work(db *database, work *w)
{
    inbox_release_resource(database, &w->claim);
    work_free(w);
}

/* Applies the claimed items with work in one transaction, then lets every
 * claimed item go. Returns how many were processed (an outcome other
 * than skipped), or -1 when the transaction was lost and none were. */
static int finish_batch(crm_processor *processor, work *items, int count)
{
    int lost = apply_batch(processor, items, count) != 0;
    int processed = 0;
    for (int i = 0; i < count; i++) {
        processed += items[i].outcome != CRM_OUTCOME_SKIPPED;
        release_work(processor->database, &items[i]);
    }
    return lost && processed == 0 ? -1 : processed;
}

int crm_process_due(crm_processor *processor, int limit)
{
    PGresult *due = inbox_due(processor->database);
    if (due == NULL)
        return -1;
    work *items = calloc(CRM_PROCESSOR_BATCH, sizeof *items);
    if (items == NULL) {
        PQclear(due);
        return -1;
    }
    int processed = 0, count = 0, failed = 0;
    int rows = PQntuples(due) < limit ? PQntuples(due) : limit;
    for (int row = 0; row < rows && !failed; row++) {
        int claimed =
            claim(processor, PQgetvalue(due, row, 0), PQgetvalue(due, row, 1), &items[count]);
        failed = claimed < 0;
        if (claimed == 1 && items[count].kind == WORK_NONE) {
            processed += items[count].outcome != CRM_OUTCOME_SKIPPED;
            release_work(processor->database, &items[count]);
        } else if (claimed == 1) {
            count++;
        }
        if (count == CRM_PROCESSOR_BATCH || (count > 0 && (failed || row + 1 == rows))) {
            int finished = finish_batch(processor, items, count);
            failed = failed || finished < 0;
            processed += finished > 0 ? finished : 0;
            count = 0;
        }
    }
    free(items);
    PQclear(due);
    return processed == 0 && failed ? -1 : processed;
}

/* ---- replay ---- */

/* Puts a finished event back to pending, due at `due_in_seconds`, with its
 * resource named (events finished before sql/008 have none) and the
 * processors notified. Sets `resource`. */
static crm_replay_result reset_event(db *database, long long event_id, int due_in_seconds,
                                     char *resource, size_t resource_size)
{
    switch (inbox_reset(database, event_id, due_in_seconds, resource, resource_size)) {
    case INBOX_RESET_DONE:
        return CRM_REPLAY_QUEUED;
    case INBOX_RESET_NOT_FINISHED:
        return CRM_REPLAY_STILL_PENDING;
    case INBOX_RESET_NO_SUCH_EVENT:
        return CRM_REPLAY_NO_SUCH_EVENT;
    case INBOX_RESET_FAILED:
        break;
    }
    return CRM_REPLAY_UNAVAILABLE;
}

crm_replay_result crm_replay_queue(db *database, long long event_id)
{
    char resource[256];
    return reset_event(database, event_id, 0, resource, sizeof resource);
}

crm_replay_result crm_replay_event(crm_processor *processor, long long event_id,
                                   crm_outcome *outcome)
{
    char resource[256];
    crm_replay_result reset = reset_event(processor->database, event_id, CRM_REPLAY_LEASE_SECONDS,
                                          resource, sizeof resource);
    if (reset != CRM_REPLAY_QUEUED)
        return reset;
    /* The resource's lock, as a processor would hold it: a processor busy
     * with another version of it finishes first (waited for up to the
     * bound below; then the lease hands the event to the processors). */
    inbox_claim c = {.resource = resource, .connection = NULL, .backend = 0};
    int taken = 0;
    for (int waited = 0; waited < CRM_REPLAY_LOCK_WAIT_MS; waited += 50) {
        taken = inbox_claim_resource(processor->database, &c);
        if (taken != 0)
            break;
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (taken != 1)
        return CRM_REPLAY_DEFERRED;
    int result = crm_process_event(processor, event_id, outcome);
    inbox_release_resource(processor->database, &c);
    return result == 0 ? CRM_REPLAY_PROCESSED : CRM_REPLAY_DEFERRED;
}

int crm_processor_prepare_session(db *database)
{
    return db_command(database, "SET enable_seqscan = off");
}

const char *crm_outcome_name(crm_outcome outcome)
{
    switch (outcome) {
    case CRM_OUTCOME_DONE:
        return "done";
    case CRM_OUTCOME_IGNORED:
        return "ignored";
    case CRM_OUTCOME_SKIPPED:
        return "skipped";
    case CRM_OUTCOME_RETRY:
        return "retry";
    case CRM_OUTCOME_DEAD:
        return "dead";
    case CRM_OUTCOME_WAITING:
        return "waiting";
    }
    return "unknown";
}
