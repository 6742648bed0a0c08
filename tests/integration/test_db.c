/*
 * The database room (issue #9): transactions and lost connections, order
 * sources met by two processes at once, Haravan's timestamps, and events
 * that end dead. Against the stack's real PostgreSQL, with the library's
 * own db (lib/core/db.h) where the connection itself is under test, and
 * through nginx and haravan-fcgi where the behaviour is the connector's.
 *
 * A connection is lost on demand by pg_terminate_backend() from another
 * connection, as a restart, a failover or an idle-session timeout would
 * end it; two processes meet at one statement by a transaction of the test
 * holding the row the connector is about to insert, and the test waits
 * until the connector's backend is seen waiting on that lock (the barrier).
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/db.h"
#include "core/sql_array.h"
#include "support.h"

#define SECRET "it-db-secret"
#define ORG    "1000114691"

static int setup(void **state)
{
    (void)state;
    if (it_ctl("settings set client_secret " SECRET " > /dev/null") != 0)
        return -1;
    it_exec("CREATE TABLE IF NOT EXISTS it_db_probe (label text NOT NULL)");
    it_exec("CREATE TABLE IF NOT EXISTS it_db_unique (k int PRIMARY KEY)");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    it_exec("DROP TABLE IF EXISTS it_db_probe, it_db_unique");
    return 0;
}

static void pause_ms(long milliseconds)
{
    struct timespec pause = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* Ends `database`'s server session from the test's own connection, as a
 * restart would, and waits until the backend is gone. */
static void kill_backend(db *database)
{
    assert_non_null(database->connection);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", PQbackendPID(database->connection));
    assert_int_equal(it_scalar("SELECT count(*) FROM pg_terminate_backend($1::int) t WHERE t", pid),
                     1);
    for (int i = 0; i < 500; i++) {
        if (it_scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int", pid) == 0)
            return;
        pause_ms(10);
    }
    fail_msg("backend %s still there after pg_terminate_backend", pid);
}

static long long probes(const char *pattern)
{
    return it_scalar("SELECT count(*) FROM it_db_probe WHERE label LIKE $1", pattern);
}

static PGresult *probe(db *database, int flags, const char *label)
{
    const char *values[] = {label};
    return db_query(database, flags, "INSERT INTO it_db_probe (label) VALUES ($1)", 1, values, NULL,
                    NULL);
}

/* ---- transactions and lost connections ---- */

/* A statement marked idempotent is run again after a reconnect, but never
 * when it belonged to a transaction: on the new connection it would be
 * committed on its own, outside the transaction, which is gone. */
static void test_statement_of_a_lost_transaction_is_not_run_outside_it(void **state)
{
    (void)state;
    db database;
    assert_int_equal(db_init(&database, it_env("HARAVAN_DB"), "it-db-lost"), 0);
    assert_int_equal(db_command(&database, "BEGIN"), 0);
    PGresult *first = probe(&database, DB_IDEMPOTENT, "lost-1");
    assert_non_null(first);
    PQclear(first);
    kill_backend(&database);
    PGresult *second = probe(&database, DB_IDEMPOTENT, "lost-2");
    if (second != NULL) {
        PQclear(second);
        fail_msg("the statement ran on a new connection, outside its transaction "
                 "(%lld row(s) committed)",
                 probes("lost-%"));
    }
    assert_int_equal(probes("lost-%"), 0);
    /* Outside a transaction the reconnect and the retry still happen. */
    assert_int_equal(db_command(&database, "SELECT 1"), 0);
    kill_backend(&database);
    PGresult *alone = probe(&database, DB_IDEMPOTENT, "alone");
    assert_non_null(alone);
    PQclear(alone);
    assert_int_equal(probes("alone"), 1);
    db_close(&database);
}

typedef struct killed_midway {
    int runs;
    int refused_after; /* a careless next statement was refused too */
} killed_midway;

/* Inserts three rows; on its first run the connection is lost after the
 * first, and the body carries on regardless, as a careless caller would. */
static int three_rows(db *database, void *context)
{
    killed_midway *k = context;
    k->runs++;
    PGresult *a = probe(database, DB_ONCE, "tx-a");
    if (k->runs == 1)
        kill_backend(database);
    PGresult *b = probe(database, DB_IDEMPOTENT, "tx-b");
    PGresult *c = probe(database, DB_ONCE, "tx-c");
    if (k->runs == 1 && c == NULL)
        k->refused_after = 1;
    int ok = a != NULL && b != NULL && c != NULL;
    PQclear(a);
    PQclear(b);
    PQclear(c);
    return ok ? 0 : -1;
}

static void test_db_transaction_fails_whole_and_runs_again_whole(void **state)
{
    (void)state;
    db database;
    assert_int_equal(db_init(&database, it_env("HARAVAN_DB"), "it-db-transaction"), 0);
    killed_midway k = {0, 0};
    assert_int_equal(db_transaction(&database, three_rows, &k), -1);
    assert_true(db_retryable(&database));
    assert_true(k.refused_after);
    assert_int_equal(probes("tx-%"), 0);
    /* The caller runs it again, whole, on a new connection. */
    assert_int_equal(db_transaction(&database, three_rows, &k), 0);
    assert_int_equal(k.runs, 2);
    assert_string_equal(database.error, "");
    assert_string_equal(database.sqlstate, "");
    assert_int_equal(probes("tx-%"), 3);
    db_close(&database);
}

/* The SQLSTATE of a failure is this failure's: a connect that fails after a
 * unique violation must not read as another unique violation (which the
 * processor would take for a race and retry at once). */
static void test_failed_connect_leaves_no_stale_sqlstate(void **state)
{
    (void)state;
    db database;
    assert_int_equal(db_init(&database, it_env("HARAVAN_DB"), "it-db-sqlstate"), 0);
    assert_int_equal(db_command(&database, "INSERT INTO it_db_unique VALUES (1)"
                                           " ON CONFLICT DO NOTHING"),
                     0);
    assert_int_not_equal(db_command(&database, "INSERT INTO it_db_unique VALUES (1)"), 0);
    assert_string_equal(database.sqlstate, "23505");
    db_disconnect(&database);
    free(database.conninfo);
    database.conninfo = strdup("host=/nonexistent-it-db dbname=none user=none");
    assert_non_null(database.conninfo);
    assert_int_not_equal(db_command(&database, "SELECT 1"), 0);
    assert_string_not_equal(database.sqlstate, "23505");
    assert_string_equal(database.sqlstate, "08001");
    db_close(&database);
}

/* ---- one new order channel, two processes ---- */

static long long deliver(const char *topic, const char *body)
{
    return it_deliver_event(SECRET, topic, ORG, body);
}

static void order_body(char *out, size_t size, const char *id, const char *updated_at,
                       const char *total, const char *channel)
{
    snprintf(out, size,
             "{\"id\":%s,\"name\":\"#DB%s\",\"created_at\":\"2026-11-20T08:00:00+07:00\","
             "\"updated_at\":\"%s\",\"financial_status\":\"pending\",\"gateway\":\"COD\","
             "\"total_price\":%s,\"currency\":\"VND\",\"source_name\":\"%s\",\"user_id\":0,"
             "\"line_items\":[{\"id\":9%s,\"product_id\":11,\"variant_id\":111,"
             "\"title\":\"Áo\",\"quantity\":1,\"price\":%s,\"total_discount\":0}],"
             "\"transactions\":[],\"customer\":null}",
             id, id, updated_at, total, channel, id, total);
}

static void wait_for_lock_wait(const char *table)
{
    for (int i = 0; i < 1500; i++) {
        if (it_scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                      " AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
                      table) > 0)
            return;
        pause_ms(10);
    }
    fail_msg("nobody came to wait on %s", table);
}

static void exec_on(PGconn *connection, const char *sql, const char *parameter)
{
    const char *values[] = {parameter};
    PGresult *result =
        PQexecParams(connection, sql, parameter != NULL ? 1 : 0, NULL, values, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(result));
    PQclear(result);
}

/* The connector meets a channel that another transaction is adding at that
 * very moment: the other commits while the connector's INSERT ... ON
 * CONFLICT waits on it. The order must still be processed at once, with
 * the other's source. */
/* sql_text_array: what PostgreSQL reads back from the literal is the
 * elements themselves, in order, however they are spelled: the text
 * "NULL", an empty string, quotes, backslashes, commas, braces, spaces,
 * a Vietnamese name, and a real NULL. And one statement with unnest()
 * writes what one statement per element would have (the order's items). */
static void test_text_array_round_trips_through_postgresql(void **state)
{
    (void)state;
    static const char *const elements[] = {
        "NULL", "",           "say \"hi\"", "back\\slash", "a,b",
        "{x}",  "  spaced  ", "Áo thun",    NULL,          "last",
    };
    size_t count = sizeof elements / sizeof elements[0];
    buffer array = BUFFER_INIT;
    assert_int_equal(sql_text_array(&array, elements, count), 0);
    db database;
    assert_int_equal(db_init(&database, it_env("HARAVAN_DB"), "it-db-array"), 0);
    const char *values[] = {buffer_text(&array)};
    PGresult *result = db_query(&database, DB_ONCE,
                                "SELECT element, element IS NULL FROM unnest($1::text[])"
                                " WITH ORDINALITY AS u(element, position) ORDER BY position",
                                1, values, NULL, NULL);
    assert_non_null(result);
    assert_int_equal(PQntuples(result), (int)count);
    for (size_t i = 0; i < count; i++) {
        if (elements[i] == NULL) {
            assert_string_equal(PQgetvalue(result, (int)i, 1), "t");
            continue;
        }
        assert_string_equal(PQgetvalue(result, (int)i, 1), "f");
        assert_string_equal(PQgetvalue(result, (int)i, 0), elements[i]);
    }
    PQclear(result);
    buffer_free(&array);
    db_close(&database);
}

static void test_new_channel_met_by_two_at_once(void **state)
{
    (void)state;
    char channel[64];
    snprintf(channel, sizeof channel, "it-race-%ld-%ld", (long)getpid(), (long)time(NULL));
    PGconn *other = PQconnectdb(it_env("HARAVAN_DB"));
    assert_int_equal(PQstatus(other), CONNECTION_OK);
    exec_on(other, "BEGIN", NULL);
    exec_on(other, "INSERT INTO order_sources (name, haravan_channel) VALUES ('Kênh mới', $1)",
            channel);

    char body[2048];
    order_body(body, sizeof body, "912001", "2026-11-20T01:00:00Z", "150000", channel);
    long long event = deliver("orders/create", body);
    wait_for_lock_wait("order_sources"); /* the barrier: both at the insert */
    exec_on(other, "COMMIT", NULL);
    PQfinish(other);

    char id[32];
    snprintf(id, sizeof id, "%lld", event);
    for (int i = 0; i < 1500; i++) {
        if (it_scalar("SELECT count(*) FROM hv_events WHERE id = $1::bigint"
                      " AND (attempts > 0 OR status <> 'pending')",
                      id) > 0)
            break;
        pause_ms(10);
    }
    char status[32];
    snprintf(status, sizeof status, "%s",
             it_text("SELECT status FROM hv_events WHERE id = $1::bigint", id, NULL));
    if (strcmp(status, "done") != 0) {
        const char *reason = it_text("SELECT coalesce(reason, '') FROM hv_events"
                                     " WHERE id = $1::bigint",
                                     id, NULL);
        /* Whatever else happens, a failed attempt says why. */
        if (reason[0] == '\0')
            fail_msg("event %s failed with an empty reason", id);
        fail_msg("event %s: %s after the race (%s)", id, status, reason);
    }
    assert_int_equal(it_scalar("SELECT attempts FROM hv_events WHERE id = $1::bigint", id), 1);
    assert_int_equal(it_scalar("SELECT count(*) FROM orders o JOIN order_sources s"
                               " ON s.id = o.source_id WHERE o.haravan_order_id = '912001'"
                               " AND s.haravan_channel = $1 AND s.name = 'Kênh mới'",
                               channel),
                     1);
}

/* ---- Haravan's timestamps ---- */

static long long order_total(const char *order)
{
    return it_scalar("SELECT total::bigint FROM orders WHERE haravan_org_id = '" ORG "'"
                     " AND haravan_order_id = $1",
                     order);
}

/* "infinity" is no time Haravan recorded: it must not make the order look
 * newer than every later version. */
static void test_infinity_does_not_freeze_an_order(void **state)
{
    (void)state;
    char body[2048];
    order_body(body, sizeof body, "913001", "infinity", "100000", "web");
    assert_string_equal(it_wait_processed(deliver("orders/create", body)), "done");
    order_body(body, sizeof body, "913001", "2026-11-21T01:00:00Z", "200000", "web");
    assert_string_equal(it_wait_processed(deliver("orders/updated", body)), "done");
    assert_int_equal(order_total("913001"), 200000);
    assert_string_equal(it_text("SELECT (haravan_updated_at AT TIME ZONE 'UTC')::text FROM orders"
                                " WHERE haravan_org_id = '" ORG "' AND haravan_order_id = $1",
                                "913001", NULL),
                        "2026-11-21 01:00:00");
    /* Nor may a word make an old version look new. */
    static const char *const words[] = {"now", "today", "tomorrow", "epoch", "-infinity"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        order_body(body, sizeof body, "913001", words[i], "300000", "web");
        assert_string_equal(it_wait_processed(deliver("orders/updated", body)), "done");
        if (order_total("913001") != 200000)
            fail_msg("updated_at \"%s\" replaced the version of 2026-11-21", words[i]);
    }
}

static void test_hv_timestamptz_reads_only_timestamps(void **state)
{
    (void)state;
    static const char *const words[] = {"infinity",      "-infinity", "now",   "today",
                                        "tomorrow",      "yesterday", "epoch", "allballs",
                                        "2026-11-21 BC", ""};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (it_scalar("SELECT count(*) FROM (SELECT hv_timestamptz($1)) t(v) WHERE v IS NULL",
                      words[i]) != 1)
            fail_msg("hv_timestamptz('%s') is not NULL", words[i]);
    static const char *const real[] = {"2026-11-21T01:00:00Z", "2026-11-21T01:00:00.1234567Z",
                                       "2026-11-21T08:00:00+07:00", "2026-11-21 08:00:00+0700"};
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++)
        if (it_scalar("SELECT count(*) FROM (SELECT hv_timestamptz($1)) t(v)"
                      " WHERE v = '2026-11-21T01:00:00Z'::timestamptz"
                      " OR v = '2026-11-21T01:00:00.1234567Z'::timestamptz",
                      real[i]) != 1)
            fail_msg("hv_timestamptz('%s') is not the time it says", real[i]);
    /* Its declared volatility: it reads TimeZone, so it is not IMMUTABLE. */
    assert_string_equal(it_text("SELECT provolatile::text FROM pg_proc"
                                " WHERE proname = 'hv_timestamptz'",
                                NULL, NULL),
                        "s");
}

/* ---- dead events ---- */

static const char *event_field(const char *column, long long event)
{
    char id[32], sql[200];
    snprintf(id, sizeof id, "%lld", event);
    snprintf(sql, sizeof sql, "SELECT %s::text FROM hv_events WHERE id = $1::bigint", column);
    return it_text(sql, id, NULL);
}

static void test_body_that_is_not_json_is_dead_with_processed_at(void **state)
{
    (void)state;
    long long event = deliver("orders/create", "{\"id\": 913101, not json");
    assert_string_equal(event_field("status", event), "dead");
    assert_non_null(event_field("reason", event));
    assert_non_null(event_field("processed_at", event));
}

/* The processor's failure path: an order the database refuses (a trigger
 * of the test's) is retried, and dead after the last attempt. */
static void test_event_that_dies_retrying_has_processed_at(void **state)
{
    (void)state;
    it_exec("CREATE OR REPLACE FUNCTION it_db_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN IF NEW.haravan_order_id = '913201' THEN"
            "   RAISE EXCEPTION 'it: the CRM refuses order 913201'; END IF;"
            " RETURN NEW; END $$");
    it_exec("CREATE TRIGGER it_db_refuse BEFORE INSERT ON orders"
            " FOR EACH ROW EXECUTE FUNCTION it_db_refuse()");
    char body[2048];
    order_body(body, sizeof body, "913201", "2026-11-22T01:00:00Z", "100000", "web");
    long long event = deliver("orders/create", body);
    char id[32];
    snprintf(id, sizeof id, "%lld", event);
    for (int i = 0;
         i < 1500 && it_scalar("SELECT attempts FROM hv_events WHERE id = $1::bigint", id) == 0;
         i++)
        pause_ms(10);
    /* Skip the backoff: one attempt left. */
    assert_int_equal(it_scalar("WITH u AS (UPDATE hv_events SET attempts = 7,"
                               " next_attempt_at = now() WHERE id = $1::bigint"
                               " AND status = 'pending' RETURNING 1) SELECT count(*) FROM u",
                               id),
                     1);
    char status[32];
    snprintf(status, sizeof status, "%s", it_wait_processed(event));
    it_exec("DROP TRIGGER it_db_refuse ON orders");
    it_exec("DROP FUNCTION it_db_refuse()");
    assert_string_equal(status, "dead");
    assert_non_null(strstr(event_field("reason", event), "it: the CRM refuses order 913201"));
    assert_non_null(event_field("processed_at", event));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statement_of_a_lost_transaction_is_not_run_outside_it),
        cmocka_unit_test(test_db_transaction_fails_whole_and_runs_again_whole),
        cmocka_unit_test(test_failed_connect_leaves_no_stale_sqlstate),
        cmocka_unit_test(test_text_array_round_trips_through_postgresql),
        cmocka_unit_test(test_new_channel_met_by_two_at_once),
        cmocka_unit_test(test_infinity_does_not_freeze_an_order),
        cmocka_unit_test(test_hv_timestamptz_reads_only_timestamps),
        cmocka_unit_test(test_body_that_is_not_json_is_dead_with_processed_at),
        cmocka_unit_test(test_event_that_dies_retrying_has_processed_at),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
