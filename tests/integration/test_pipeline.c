/*
 * The pipeline, through real nginx and PostgreSQL: request workers only
 * store and answer; the master's processors (hv-processor) process.
 *
 * Covers: deliveries answered and stored, and left pending, while every
 * processor is stopped (SIGSTOP), then processed when they run again;
 * processing starting at once after a delivery (well inside the 10 s
 * sweep, so a notification woke it), and so for a delivery its worker
 * stored without announcing it; five orders claimed together applied in
 * one transaction, one of them failing (a trigger refuses its order) and
 * the other four done in that same transaction; many versions of one order, stored
 * shuffled while the processors were stopped, applied one at a time in
 * updated_at order while another order proceeds beside it; a processor
 * killed with SIGKILL in the middle of an event's transaction losing
 * nothing; HARAVAN_PROCESSORS=0 (intake only): deliveries and replays from
 * the settings page stored and left pending, processed once processors
 * run; the token refresh duty held by one processor at a time.
 *
 * What was processed when is recorded by this test's own trigger on
 * hv_events (pipeline_log): each event's processing transaction, from its
 * start (now()) to the statement that finished it (clock_timestamp()).
 */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

#define SECRET   "it-pipeline-secret"
#define ORG      "1000114777"
#define VERSIONS 12
/* cgi/haravan-fcgi/processing.h: PROCESSING_SWEEP_SECONDS is 10. */
#define AT_ONCE_MS 2000.0

/* ---- the processors ---- */

static pid_t master_pid(void)
{
    return it_pid_in("haravan-fcgi.pid");
}

/* The master's live children named hv-processor. Returns how many. */
static int processor_pids(pid_t *out, int capacity)
{
    pid_t master = master_pid();
    assert_true(master > 0);
    return it_children_of(master, "hv-processor", out, capacity);
}

static int configured_processors(void)
{
    return atoi(it_env("HARAVAN_PROCESSORS"));
}

static void signal_processors(int signal_number)
{
    pid_t pids[64];
    int count = processor_pids(pids, 64);
    assert_int_equal(count, configured_processors());
    for (int i = 0; i < count; i++)
        assert_int_equal(kill(pids[i], signal_number), 0);
}

/* A session of the test's own holding an order's row; closed (its
 * transaction rolled back) whatever happens in a test. */
static PGconn *holder;

static void hold_order(const char *id)
{
    holder = PQconnectdb(it_env("HARAVAN_DB"));
    assert_int_equal(PQstatus(holder), CONNECTION_OK);
    const char *values[] = {id};
    PGresult *result = PQexec(holder, "BEGIN");
    assert_int_equal(PQresultStatus(result), PGRES_COMMAND_OK);
    PQclear(result);
    result = PQexecParams(holder,
                          "SELECT 1 FROM orders WHERE haravan_order_id = $1"
                          " AND haravan_org_id = '" ORG "' FOR UPDATE",
                          1, NULL, values, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(result), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(result), 1);
    PQclear(result);
}

static void release_order(void)
{
    if (holder != NULL)
        PQfinish(holder);
    holder = NULL;
}

/* Whatever happened in a test, the processors run again after it, and
 * no order stays held. */
static int resume_processors(void **state)
{
    (void)state;
    release_order();
    pid_t pids[64];
    int count = processor_pids(pids, 64);
    for (int i = 0; i < count; i++)
        kill(pids[i], SIGCONT);
    return 0;
}

static void pause_ms(long ms)
{
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* ---- the record of processing ---- */

static int setup(void **state)
{
    (void)state;
    if (it_ctl("settings set client_secret " SECRET " > /dev/null") != 0)
        return -1;
    it_exec("CREATE TABLE IF NOT EXISTS pipeline_log (seq bigserial PRIMARY KEY,"
            " event_id bigint, resource text, version timestamptz, status text,"
            " started timestamptz, finished timestamptz)");
    it_exec("CREATE OR REPLACE FUNCTION pipeline_log_finish() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN"
            " INSERT INTO pipeline_log (event_id, resource, version, status, started, finished)"
            " VALUES (NEW.id, NEW.resource, NEW.resource_version, NEW.status, now(),"
            " clock_timestamp()); RETURN NEW; END $$");
    it_exec("DROP TRIGGER IF EXISTS pipeline_log_finish ON hv_events");
    it_exec("CREATE TRIGGER pipeline_log_finish BEFORE UPDATE OF status ON hv_events FOR EACH ROW"
            " WHEN (OLD.status = 'pending' AND NEW.status <> 'pending')"
            " EXECUTE FUNCTION pipeline_log_finish()");
    return 0;
}

static int teardown(void **state)
{
    resume_processors(state);
    it_exec("DROP TRIGGER IF EXISTS pipeline_log_finish ON hv_events");
    return 0;
}

/* ---- deliveries ---- */

/* Version `v` of order `id`: its total says which version it is. */
static long long deliver_order(const char *id, int v, const char *customer_id)
{
    char body[1400];
    snprintf(body, sizeof body,
             "{\"id\":%s,\"name\":\"#P%s\",\"created_at\":\"2026-11-10T08:00:00Z\","
             "\"updated_at\":\"2026-11-10T09:%02d:00Z\",\"financial_status\":\"pending\","
             "\"gateway\":\"COD\",\"total_price\":%d,\"currency\":\"VND\","
             "\"source_name\":\"web\",\"user_id\":0,"
             "\"line_items\":[{\"id\":7%s,\"product_id\":11,\"variant_id\":111,\"sku\":\"P\","
             "\"title\":\"Áo\",\"quantity\":1,\"price\":%d,\"total_discount\":0}],"
             "\"transactions\":[],\"customer\":{\"id\":%s,\"first_name\":\"Khách\","
             "\"last_name\":\"%s\",\"phone\":\"09%s\",\"email\":\"p%s@pipeline.test\","
             "\"updated_at\":\"2026-11-10T08:00:00Z\"}}",
             id, id, v, 100000 + v, id, 100000 + v, customer_id, customer_id,
             customer_id + strlen(customer_id) - 8, customer_id);
    return it_deliver_event(SECRET, v == 0 ? "orders/create" : "orders/updated", ORG, body);
}

static long long order_total(const char *id)
{
    return it_scalar("SELECT total FROM orders WHERE haravan_order_id = $1"
                     " AND haravan_org_id = '" ORG "'",
                     id);
}

static long long pending_of(const char *id)
{
    return it_scalar("SELECT count(*) FROM hv_events WHERE org_id = '" ORG "'"
                     " AND resource_id = $1 AND status = 'pending'",
                     id);
}

/* Waits up to 20 s for every event of order `id` to be finished. */
static void wait_order_finished(const char *id)
{
    for (int i = 0; i < 1000 && pending_of(id) > 0; i++)
        pause_ms(20);
    assert_int_equal(pending_of(id), 0);
}

/* One version at a time, oldest first: in the order they finished, each
 * event of the order is newer than the one before and its transaction
 * started after the one before had finished. */
static void assert_applied_one_at_a_time_in_order(const char *id, int expected)
{
    char resource[64];
    snprintf(resource, sizeof resource, "orders:" ORG ":%s", id);
    assert_int_equal(it_scalar("SELECT count(*) FROM pipeline_log WHERE resource = $1"
                               " AND status = 'done'",
                               resource),
                     expected);
    long long out_of_order = it_scalar(
        "SELECT count(*) FROM (SELECT version, started,"
        " lag(version) OVER w AS previous_version, lag(finished) OVER w AS previous_finished"
        " FROM pipeline_log WHERE resource = $1 WINDOW w AS (ORDER BY seq)) l"
        " WHERE version <= previous_version",
        resource);
    long long overlapping = it_scalar(
        "SELECT count(*) FROM (SELECT started, lag(finished) OVER (ORDER BY seq) AS previous"
        " FROM pipeline_log WHERE resource = $1) l WHERE started < previous",
        resource);
    if (out_of_order != 0 || overlapping != 0)
        fail_msg("order %s: %lld versions applied after a newer one, %lld started before the"
                 " previous one finished",
                 id, out_of_order, overlapping);
}

/* ---- tests ---- */

/* (a) Workers only store: with every processor stopped, deliveries are
 * answered and stored and nothing happens to them; then they are
 * processed. */
static void test_stopped_processors_leave_deliveries_pending(void **state)
{
    (void)state;
    signal_processors(SIGSTOP);
    long long first = deliver_order("7100001", 0, "7100001001");
    long long second = deliver_order("7100002", 0, "7100002001");
    pause_ms(2000);
    char first_id[32], second_id[32];
    snprintf(first_id, sizeof first_id, "%lld", first);
    snprintf(second_id, sizeof second_id, "%lld", second);
    static const char untouched[] = "SELECT count(*) FROM hv_events WHERE id = $1::bigint"
                                    " AND status = 'pending' AND attempts = 0"
                                    " AND processed_at IS NULL";
    assert_int_equal(it_scalar(untouched, first_id), 1);
    assert_int_equal(it_scalar(untouched, second_id), 1);
    assert_int_equal(it_scalar("SELECT count(*) FROM orders WHERE haravan_org_id = '" ORG "'"
                               " AND haravan_order_id IN ('7100001', '7100002')",
                               NULL),
                     0);
    signal_processors(SIGCONT);
    assert_string_equal(it_wait_processed(first), "done");
    assert_string_equal(it_wait_processed(second), "done");
    assert_int_equal(order_total("7100001"), 100000);
    assert_int_equal(order_total("7100002"), 100000);
}

/* (b) A notification wakes a processor: each event is done well before
 * the sweep (10 s) could have found it. */
static void test_processing_starts_at_once(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++) {
        char id[16], customer[16];
        snprintf(id, sizeof id, "72000%02d", i);
        snprintf(customer, sizeof customer, "72000%02d001", i);
        long long event = deliver_order(id, 0, customer);
        assert_string_equal(it_wait_processed(event), "done");
        char text[32];
        snprintf(text, sizeof text, "%lld", event);
        double waited_ms = (double)it_scalar(
            "SELECT (extract(epoch FROM processed_at - received_at) * 1000)::bigint"
            " FROM hv_events WHERE id = $1::bigint",
            text);
        if (waited_ms >= AT_ONCE_MS)
            fail_msg("event %lld waited %.0f ms after it was stored", event, waited_ms);
    }
}

static void restart_fcgi_with(const char *const *names, const char *const *values, int count);
static int restart_as_configured(void **state);

/* (b') A worker announces at most one stored event per 50 ms
 * (inbox/inbox.h, "Waking"); a delivery it stores sooner after one it
 * announced is covered only by the processors' promise to look again
 * after every notification. Made to happen: one worker (so both
 * deliveries of a pair meet the same one), the first of a pair announced
 * and finished at once (a topic the CRM ignores takes a processor about a
 * millisecond), the second sent 25 ms after the first was answered, when
 * the processors have gone back to sleep until the sweep (10 s). It must be finished well
 * before the sweep. */
static void test_unannounced_delivery_is_not_left_for_the_sweep(void **state)
{
    (void)state;
    restart_fcgi_with((const char *const[]){"HARAVAN_WORKERS"}, (const char *const[]){"1"}, 1);
    for (int pair = 0; pair < 5; pair++) {
        long long events[2];
        for (int i = 0; i < 2; i++) {
            char body[160];
            snprintf(body, sizeof body,
                     "{\"id\":760%02d%d,\"title\":\"Áo\",\"updated_at\":\"2026-11-10T08:00:00Z\"}",
                     pair, i);
            events[i] = it_deliver_event(SECRET, "products/update", ORG, body);
            assert_true(events[i] > 0);
            if (i == 0)
                pause_ms(25);
        }
        assert_string_equal(it_wait_processed(events[1]), "ignored");
        char text[32];
        snprintf(text, sizeof text, "%lld", events[1]);
        double waited_ms = (double)it_scalar(
            "SELECT (extract(epoch FROM processed_at - received_at) * 1000)::bigint"
            " FROM hv_events WHERE id = $1::bigint",
            text);
        if (waited_ms >= AT_ONCE_MS)
            fail_msg("pair %d: the second delivery (event %lld) waited %.0f ms after it was"
                     " stored",
                     pair + 1, events[1], waited_ms);
        pause_ms(100); /* the next pair's first delivery is announced */
    }
}

/* (e) Batches: events claimed together are applied in one transaction,
 * one savepoint each, and one that fails does not fail or lose the others.
 * One processor runs (the other stays stopped) so that it claims all five
 * orders in one pass; a trigger of the test's own refuses the third one's
 * order row. Every finished event, and the failed attempt of the third,
 * is logged with its transaction's start (pipeline_log): all five share
 * one. Then the trigger goes and the third is processed on its retry. */
static void test_one_failure_in_a_batch_spares_the_others(void **state)
{
    (void)state;
    it_exec("CREATE OR REPLACE FUNCTION pipeline_refuse_order() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN IF NEW.haravan_order_id = '7700003' THEN"
            " RAISE EXCEPTION 'test: order 7700003 refused by a trigger'; END IF;"
            " RETURN NEW; END $$");
    it_exec("CREATE TRIGGER pipeline_refuse_order BEFORE INSERT ON orders FOR EACH ROW"
            " EXECUTE FUNCTION pipeline_refuse_order()");
    it_exec("CREATE TRIGGER pipeline_log_attempt BEFORE UPDATE OF attempts ON hv_events"
            " FOR EACH ROW WHEN (NEW.status = 'pending' AND NEW.attempts > OLD.attempts)"
            " EXECUTE FUNCTION pipeline_log_finish()");
    signal_processors(SIGSTOP);
    long long events[5];
    char ids[5][16], id_list[160] = "";
    for (int i = 0; i < 5; i++) {
        char order[16], customer[16];
        snprintf(order, sizeof order, "770000%d", i + 1);
        snprintf(customer, sizeof customer, "770000%d001", i + 1);
        events[i] = deliver_order(order, 0, customer);
        snprintf(ids[i], sizeof ids[i], "%lld", events[i]);
        snprintf(id_list + strlen(id_list), sizeof id_list - strlen(id_list), "%s%lld",
                 i > 0 ? "," : "", events[i]);
    }
    pid_t pids[64];
    assert_true(processor_pids(pids, 64) >= 1);
    assert_int_equal(kill(pids[0], SIGCONT), 0);

    for (int i = 0; i < 5; i++)
        if (i != 2)
            assert_string_equal(it_wait_processed(events[i]), "done");
    for (int i = 0;
         i < 500 && it_scalar("SELECT attempts FROM hv_events WHERE id = $1::bigint", ids[2]) == 0;
         i++)
        pause_ms(20);
    assert_string_equal(it_text("SELECT status || ': ' || reason FROM hv_events"
                                " WHERE id = $1::bigint",
                                ids[2], NULL),
                        "pending: ERROR:  test: order 7700003 refused by a trigger\n"
                        "CONTEXT:  PL/pgSQL function pipeline_refuse_order() line 1 at RAISE");
    char in_batch[512];
    snprintf(in_batch, sizeof in_batch,
             "SELECT count(*) FILTER (WHERE status = 'done') || ' done, '"
             " || count(*) FILTER (WHERE status = 'pending') || ' failed, in '"
             " || count(DISTINCT started) || ' transaction(s)'"
             " FROM pipeline_log WHERE event_id IN (%s)",
             id_list);
    assert_string_equal(it_text(in_batch, NULL, NULL), "4 done, 1 failed, in 1 transaction(s)");
    assert_int_equal(order_total("7700001"), 100000);
    assert_int_equal(order_total("7700005"), 100000);
    assert_int_equal(it_scalar("SELECT count(*) FROM orders WHERE haravan_org_id = '" ORG "'"
                               " AND haravan_order_id = '7700003'",
                               NULL),
                     0);

    it_exec("DROP TRIGGER pipeline_refuse_order ON orders");
    assert_string_equal(it_wait_processed(events[2]), "done");
    assert_int_equal(order_total("7700003"), 100000);
}

static int drop_batch_triggers(void **state)
{
    it_exec("DROP TRIGGER IF EXISTS pipeline_refuse_order ON orders");
    it_exec("DROP TRIGGER IF EXISTS pipeline_log_attempt ON hv_events");
    return resume_processors(state);
}

/* Versions 1..VERSIONS of orders `a` and `b`, in a shuffled order. */
static void deliver_shuffled_versions(const char *a, const char *a_customer, const char *b,
                                      const char *b_customer)
{
    int sequence[2 * VERSIONS];
    for (int i = 0; i < 2 * VERSIONS; i++)
        sequence[i] = i;
    srand(20261110);
    for (int i = 2 * VERSIONS - 1; i > 0; i--) {
        int j = rand() % (i + 1);
        int kept = sequence[i];
        sequence[i] = sequence[j];
        sequence[j] = kept;
    }
    for (int i = 0; i < 2 * VERSIONS; i++) {
        int v = sequence[i] % VERSIONS + 1;
        if (sequence[i] < VERSIONS)
            deliver_order(a, v, a_customer);
        else
            deliver_order(b, v, b_customer);
    }
}

/* (c) Many versions of one order, all pending at once across the
 * processors: one at a time, oldest first, the newest last; and while
 * one order is held up, another proceeds. */
static void test_versions_of_one_order_in_order_others_in_parallel(void **state)
{
    (void)state;
    assert_true(configured_processors() >= 2);
    assert_string_equal(it_wait_processed(deliver_order("7300001", 0, "7300001001")), "done");
    assert_string_equal(it_wait_processed(deliver_order("7300002", 0, "7300002001")), "done");
    signal_processors(SIGSTOP);
    deliver_shuffled_versions("7300001", "7300001001", "7300002", "7300002001");
    assert_int_equal(pending_of("7300001"), VERSIONS);
    assert_int_equal(pending_of("7300002"), VERSIONS);

    /* Hold order 7300001's row: whichever processor takes its oldest
     * version waits inside that event's transaction. */
    hold_order("7300001");
    signal_processors(SIGCONT);

    wait_order_finished("7300002");
    assert_int_equal(order_total("7300002"), 100000 + VERSIONS);
    /* Nothing of the held order went past its first version meanwhile. */
    assert_int_equal(pending_of("7300001"), VERSIONS);
    assert_int_equal(order_total("7300001"), 100000);

    release_order();
    wait_order_finished("7300001");
    assert_int_equal(order_total("7300001"), 100000 + VERSIONS);
    assert_applied_one_at_a_time_in_order("7300001", VERSIONS + 1);
    assert_applied_one_at_a_time_in_order("7300002", VERSIONS + 1);
}

/* Waits until a processor's session waits on a lock. */
static void wait_for_a_blocked_processor(void)
{
    for (int i = 0; i < 500; i++) {
        if (it_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE"
                      " 'haravan-fcgi processor %' AND wait_event_type = 'Lock'",
                      NULL) > 0)
            return;
        pause_ms(20);
    }
    fail_msg("no processor took the event");
}

/* (d) A processor killed in the middle of an event's transaction: the
 * master replaces it and the event is processed, once. */
static void test_processor_killed_mid_event_loses_nothing(void **state)
{
    (void)state;
    assert_string_equal(it_wait_processed(deliver_order("7400001", 0, "7400001001")), "done");
    hold_order("7400001");
    long long event = deliver_order("7400001", 1, "7400001001");
    wait_for_a_blocked_processor();

    pid_t before[64];
    int count = processor_pids(before, 64);
    assert_int_equal(count, configured_processors());
    for (int i = 0; i < count; i++)
        assert_int_equal(kill(before[i], SIGKILL), 0);
    /* The master replaces them. */
    pid_t after[64];
    int replaced = 0;
    for (int attempt = 0; attempt < 250 && replaced < count; attempt++) {
        pause_ms(20);
        int now = processor_pids(after, 64);
        replaced = 0;
        for (int i = 0; i < now; i++) {
            int old = 0;
            for (int j = 0; j < count; j++)
                old |= after[i] == before[j];
            replaced += !old;
        }
    }
    assert_int_equal(replaced, count);

    release_order();
    assert_string_equal(it_wait_processed(event), "done");
    assert_int_equal(order_total("7400001"), 100001);
    char text[32];
    snprintf(text, sizeof text, "%lld", event);
    assert_int_equal(it_scalar("SELECT attempts FROM hv_events WHERE id = $1::bigint", text), 1);
    assert_int_equal(it_scalar("SELECT count(*) FROM crm_events WHERE type = 'order.updated'"
                               " AND (payload->>'hv_event_id')::bigint = $1::bigint",
                               text),
                     1);
}

/* ---- intake only: HARAVAN_PROCESSORS=0 ---- */

static long health_status(void)
{
    it_response r = it_request("GET", "/api/haravan/health", NULL, NULL, 0);
    long status = r.status;
    it_response_free(&r);
    return status;
}

/* Restarts haravan-fcgi with `names[i]` set to `values[i]` for it alone
 * (count 0: as the stack was configured). The stack script starts it with
 * its stack.env and our environment, which wins. */
static void restart_fcgi_with(const char *const *names, const char *const *values, int count)
{
    char *saved[4];
    assert_true(count <= 4);
    assert_int_equal(it_stack("fcgi-stop"), 0);
    for (int i = 0; i < count; i++) {
        const char *current = getenv(names[i]);
        saved[i] = current != NULL ? strdup(current) : NULL;
        setenv(names[i], values[i], 1);
    }
    int started = it_stack("fcgi-start");
    for (int i = 0; i < count; i++) {
        if (saved[i] != NULL)
            setenv(names[i], saved[i], 1);
        else
            unsetenv(names[i]);
        free(saved[i]);
    }
    assert_int_equal(started, 0);
    for (int i = 0; i < 100 && health_status() != 200; i++)
        pause_ms(100);
    assert_int_equal(health_status(), 200);
}

/* Restarts haravan-fcgi; with `intake_only`, with no processors and the
 * CRM's sign-in for the admin routes (the stack's stand-in takes a cookie:
 * README, "Admin sign-in"). */
static void restart_fcgi(int intake_only)
{
    static const char *const names[] = {"HARAVAN_PROCESSORS", "HARAVAN_ADMIN_AUTH"};
    static const char *const values[] = {"0", "crm"};
    restart_fcgi_with(names, values, intake_only ? 2 : 0);
}

static int restart_as_configured(void **state)
{
    (void)state;
    restart_fcgi(0);
    return 0;
}

static int restart_with_processors(void **state)
{
    (void)state;
    pid_t pids[64];
    if (processor_pids(pids, 64) == 0)
        restart_fcgi(0);
    return 0;
}

/* The admin's CSRF token, through the CRM sign-in's cookie. */
static void crm_admin_csrf(const char *cookie, char *out, size_t size)
{
    const char *headers[] = {cookie, NULL};
    it_response r = it_request("GET", "/api/haravan/admin/session", headers, NULL, 0);
    assert_int_equal(r.status, 200);
    const char *csrf = strstr(r.body.data, "\"csrf\":\"");
    assert_non_null(csrf);
    csrf += strlen("\"csrf\":\"");
    snprintf(out, size, "%.*s", (int)strcspn(csrf, "\""), csrf);
    it_response_free(&r);
}

/* (a) again, as configured: HARAVAN_PROCESSORS=0 runs no processor; a
 * delivery is stored and stays pending, and so does an event replayed from
 * the settings page (the worker re-queues it, it does not process it);
 * processors started later process both. */
static void test_intake_only_host_processes_nothing(void **state)
{
    (void)state;
    long long earlier = deliver_order("7500001", 0, "7500001001");
    assert_string_equal(it_wait_processed(earlier), "done");
    restart_fcgi(1);
    pid_t pids[64];
    assert_int_equal(processor_pids(pids, 64), 0);

    long long stored = deliver_order("7500002", 0, "7500002001");
    char cookie[256], csrf[128], csrf_line[160], path[96], expected[96];
    snprintf(cookie, sizeof cookie, "Cookie: crm_session=%s", it_env("STACK_CRM_ADMIN_COOKIE"));
    crm_admin_csrf(cookie, csrf, sizeof csrf);
    snprintf(csrf_line, sizeof csrf_line, "X-CSRF-Token: %s", csrf);
    snprintf(path, sizeof path, "/api/haravan/events/%lld/replay", earlier);
    const char *headers[] = {cookie, csrf_line, NULL};
    it_response r = it_request("POST", path, headers, NULL, 0);
    assert_int_equal(r.status, 200);
    snprintf(expected, sizeof expected, "{\"id\":%lld,\"status\":\"pending\"}", earlier);
    assert_string_equal(r.body.data, expected);
    it_response_free(&r);

    char stored_id[32], earlier_id[32];
    snprintf(stored_id, sizeof stored_id, "%lld", stored);
    snprintf(earlier_id, sizeof earlier_id, "%lld", earlier);
    static const char untouched[] = "SELECT count(*) FROM hv_events WHERE id = $1::bigint"
                                    " AND status = 'pending' AND attempts = 0";
    assert_int_equal(it_scalar(untouched, stored_id), 1);
    assert_int_equal(it_scalar(untouched, earlier_id), 1);
    assert_int_equal(
        it_scalar("SELECT count(*) FROM orders WHERE haravan_order_id = $1", "7500002"), 0);

    restart_fcgi(0);
    assert_string_equal(it_wait_processed(stored), "done");
    assert_string_equal(it_wait_processed(earlier), "done");
    assert_int_equal(order_total("7500002"), 100000);
}

/* ---- the token refresh duty ---- */

static long long duty_holders(void)
{
    return it_scalar("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                     " WHERE l.locktype = 'advisory' AND l.classid = 26743 AND l.objid = 0"
                     " AND l.objsubid = 2 AND l.granted"
                     " AND a.application_name LIKE 'haravan-fcgi processor %'",
                     NULL);
}

static long long duty_backend(void)
{
    return it_scalar("SELECT coalesce(min(pid), 0) FROM pg_locks WHERE locktype = 'advisory'"
                     " AND classid = 26743 AND objid = 0 AND objsubid = 2 AND granted",
                     NULL);
}

/* Token refresh ahead of expiry is one processor's duty, however many run
 * (processing.h): exactly one holds its lock; when the processors die,
 * one of their replacements takes it over within a few seconds. */
static void test_one_processor_holds_the_refresh_duty(void **state)
{
    (void)state;
    assert_true(configured_processors() >= 2);
    for (int i = 0; i < 150 && duty_holders() == 0; i++)
        pause_ms(20);
    assert_int_equal(duty_holders(), 1);
    long long before = duty_backend();
    signal_processors(SIGKILL);
    long long after = 0;
    for (int i = 0; i < 250; i++) {
        after = duty_backend();
        if (after != 0 && after != before)
            break;
        pause_ms(20);
    }
    if (after == 0 || after == before)
        fail_msg("no new processor took the refresh duty within 5 s (holder before: %lld, now:"
                 " %lld; the holder now: %s)",
                 before, after,
                 it_text("SELECT coalesce(string_agg(a.application_name || ' ' || a.state || ' '"
                         " || coalesce(a.wait_event, '-') || ' ' || left(a.query, 60), '; '),"
                         " 'none') FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                         " WHERE l.locktype = 'advisory' AND l.classid = 26743 AND l.granted",
                         NULL, NULL));
    assert_int_equal(duty_holders(), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_stopped_processors_leave_deliveries_pending,
                                  resume_processors),
        cmocka_unit_test(test_processing_starts_at_once),
        cmocka_unit_test_teardown(test_unannounced_delivery_is_not_left_for_the_sweep,
                                  restart_as_configured),
        cmocka_unit_test_teardown(test_versions_of_one_order_in_order_others_in_parallel,
                                  resume_processors),
        cmocka_unit_test_teardown(test_processor_killed_mid_event_loses_nothing, resume_processors),
        cmocka_unit_test_teardown(test_one_failure_in_a_batch_spares_the_others,
                                  drop_batch_triggers),
        cmocka_unit_test_teardown(test_intake_only_host_processes_nothing, restart_with_processors),
        cmocka_unit_test(test_one_processor_holds_the_refresh_duty),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
