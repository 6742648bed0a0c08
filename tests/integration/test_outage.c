/*
 * Intake under failure, through real nginx and PostgreSQL: the database
 * going away and coming back, workers killed with SIGKILL during a burst,
 * configuration reloads (SIGHUP) and a drain (SIGTERM) under load.
 *
 * The promise checked every time: every delivery that got a 200 is in the
 * inbox. Requests refused during a failure are fine (Haravan sends again);
 * a 200 for something not stored never is.
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
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "support.h"

#define SECRET "it-outage-secret"

static int setup_secret(void **state)
{
    (void)state;
    return it_ctl("settings set client_secret '" SECRET "' > /dev/null");
}

static pid_t master_pid(void)
{
    return it_pid_in("haravan-fcgi.pid");
}

/* The master's children: workers and processors. */
static int worker_pids(pid_t master, pid_t *out, int capacity)
{
    return it_children_of(master, NULL, out, capacity);
}

static int configured_workers(void)
{
    return atoi(it_env("HARAVAN_WORKERS"));
}

/* The master's children: its FastCGI workers and its processors. */
static int expected_children(void)
{
    return configured_workers() + atoi(it_env("HARAVAN_PROCESSORS"));
}

/* ---- a burst of signed deliveries over libcurl's multi interface ---- */

typedef struct delivery {
    CURL *handle;
    struct curl_slist *headers;
    char body[160];
    long status;
} delivery;

typedef struct burst {
    delivery *deliveries;
    int count;
    char org[64];
} burst;

static size_t discard(char *data, size_t size, size_t count, void *context)
{
    (void)data;
    (void)context;
    return size * count;
}

static void prepare(burst *b, int count, const char *org_prefix)
{
    b->count = count;
    b->deliveries = calloc((size_t)count, sizeof *b->deliveries);
    assert_non_null(b->deliveries);
    snprintf(b->org, sizeof b->org, "%s-%ld-%ld", org_prefix, (long)getpid(), (long)time(NULL));
    char url[512];
    snprintf(url, sizeof url, "%s/api/haravan/webhook", it_env("HARAVAN_BASE_URL"));
    for (int i = 0; i < count; i++) {
        delivery *d = &b->deliveries[i];
        /* The org in the body too: each burst's bodies are its own (the
         * same signed bytes under another org would be a duplicate). */
        snprintf(d->body, sizeof d->body,
                 "{\"id\":%d,\"updated_at\":\"2026-11-28T08:00:00+07:00\",\"note\":\"đợt %d, "
                 "%s\"}",
                 i + 1, i + 1, b->org);
        char signature[64], line[128];
        it_sign(SECRET, d->body, strlen(d->body), signature);
        snprintf(line, sizeof line, "X-Haravan-Hmacsha256: %s", signature);
        d->headers = curl_slist_append(NULL, line);
        d->headers = curl_slist_append(d->headers, "X-Haravan-Topic: orders/create");
        snprintf(line, sizeof line, "X-Haravan-Org-Id: %s", b->org);
        d->headers = curl_slist_append(d->headers, line);
        d->headers = curl_slist_append(d->headers, "Content-Type: application/json");
        d->handle = curl_easy_init();
        curl_easy_setopt(d->handle, CURLOPT_URL, url);
        curl_easy_setopt(d->handle, CURLOPT_HTTPHEADER, d->headers);
        curl_easy_setopt(d->handle, CURLOPT_POSTFIELDS, d->body);
        curl_easy_setopt(d->handle, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(d->handle, CURLOPT_PRIVATE, d);
        curl_easy_setopt(d->handle, CURLOPT_WRITEFUNCTION, discard);
    }
}

/* Runs the burst with `concurrency` requests in flight; calls `tick` about
 * every 10 ms with the number finished so far. */
static void run(burst *b, int concurrency, void (*tick)(int finished, void *context), void *context)
{
    CURLM *multi = curl_multi_init();
    int next = 0, finished = 0, running = 0;
    while (finished < b->count) {
        while (next < b->count && next - finished < concurrency)
            curl_multi_add_handle(multi, b->deliveries[next++].handle);
        curl_multi_perform(multi, &running);
        int queued;
        for (CURLMsg *message = curl_multi_info_read(multi, &queued); message != NULL;
             message = curl_multi_info_read(multi, &queued)) {
            if (message->msg != CURLMSG_DONE)
                continue;
            delivery *d = NULL;
            curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&d);
            if (message->data.result == CURLE_OK)
                curl_easy_getinfo(message->easy_handle, CURLINFO_RESPONSE_CODE, &d->status);
            curl_multi_remove_handle(multi, message->easy_handle);
            finished++;
        }
        curl_multi_poll(multi, NULL, 0, 10, NULL);
        if (tick != NULL)
            tick(finished, context);
    }
    curl_multi_cleanup(multi);
}

static void release(burst *b)
{
    for (int i = 0; i < b->count; i++) {
        curl_slist_free_all(b->deliveries[i].headers);
        curl_easy_cleanup(b->deliveries[i].handle);
    }
    free(b->deliveries);
}

/* Every delivery that got a 200 is stored; returns how many got one. */
static int assert_every_200_stored(const burst *b)
{
    const char *values[] = {b->org};
    PGresult *result =
        PQexecParams(it_db(), "SELECT resource_id::int FROM hv_events WHERE org_id = $1", 1, NULL,
                     values, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(result), PGRES_TUPLES_OK);
    char *stored = calloc((size_t)b->count + 1, 1);
    assert_non_null(stored);
    for (int row = 0; row < PQntuples(result); row++) {
        int id = atoi(PQgetvalue(result, row, 0));
        if (id >= 1 && id <= b->count)
            stored[id] = 1;
    }
    PQclear(result);
    int accepted = 0;
    for (int i = 0; i < b->count; i++) {
        if (b->deliveries[i].status != 200)
            continue;
        accepted++;
        if (!stored[i + 1])
            fail_msg("delivery %d got 200 but is not in the inbox", i + 1);
    }
    free(stored);
    return accepted;
}

static int count_status(const burst *b, long status)
{
    int count = 0;
    for (int i = 0; i < b->count; i++)
        count += b->deliveries[i].status == status;
    return count;
}

/* ---- the cases ---- */

static long deliver_one(const char *id)
{
    char body[128];
    snprintf(body, sizeof body, "{\"id\":%s,\"updated_at\":\"2026-11-28T09:00:00Z\"}", id);
    it_response response = it_deliver(SECRET, "X-Haravan-Hmacsha256", "orders/create", "it-outage",
                                      body, strlen(body));
    long status = response.status;
    it_response_free(&response);
    return status;
}

static void test_database_down_is_503_and_recovers_without_restart(void **state)
{
    (void)state;
    pid_t master = master_pid();
    assert_int_equal(deliver_one("71"), 200);
    assert_int_equal(it_stack("pg-stop"), 0);

    assert_int_equal(deliver_one("72"), 503);
    it_response health = it_request("GET", "/api/haravan/health", NULL, NULL, 0);
    assert_int_equal(health.status, 503);
    assert_non_null(strstr(health.body.data, "\"db\":\"down\""));
    it_response_free(&health);

    assert_int_equal(it_stack("pg-start"), 0);
    /* Every worker reconnects on its own; ask enough times to reach all. */
    for (int i = 0; i < 3 * configured_workers(); i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", 100 + i);
        assert_int_equal(deliver_one(id), 200);
    }
    assert_int_equal(deliver_one("72"), 200);
    assert_int_equal(master_pid(), master);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_events WHERE org_id = 'it-outage'"
                               " AND resource_id IN ('71', '72')",
                               NULL),
                     2);
}

typedef struct killer {
    pid_t master;
    int kills;
    double last_kill_ms;
} killer;

static void kill_a_worker(int finished, void *context)
{
    killer *k = context;
    (void)finished;
    double now = it_now_ms();
    if (now - k->last_kill_ms < 100)
        return;
    k->last_kill_ms = now;
    pid_t workers[64];
    int count = worker_pids(k->master, workers, 64);
    if (count > 0 && kill(workers[rand() % count], SIGKILL) == 0)
        k->kills++;
}

static void test_sigkill_during_burst_loses_nothing(void **state)
{
    (void)state;
    killer k = {.master = master_pid(), .kills = 0, .last_kill_ms = 0};
    assert_true(k.master > 0);
    burst b;
    prepare(&b, 2000, "it-kill9");
    run(&b, 32, kill_a_worker, &k);
    int accepted = assert_every_200_stored(&b);
    print_message("burst: %d of %d got 200, %d got 502, %d workers killed\n", accepted, b.count,
                  count_status(&b, 502), k.kills);
    assert_true(k.kills >= 5);
    assert_true(accepted >= b.count / 2);
    release(&b);

    /* The master replaced what was killed. */
    usleep(1500 * 1000);
    pid_t workers[64];
    assert_int_equal(worker_pids(k.master, workers, 64), expected_children());
    it_response health = it_request("GET", "/api/haravan/health", NULL, NULL, 0);
    assert_int_equal(health.status, 200);
    assert_null(strstr(health.body.data, "\"workers_restarted\":0"));
    it_response_free(&health);
}

typedef struct reloader {
    pid_t master;
    int reloads;
    int every;
} reloader;

static void reload_now_and_then(int finished, void *context)
{
    reloader *r = context;
    if (finished >= (r->reloads + 1) * r->every && r->reloads < 3) {
        kill(r->master, SIGHUP);
        r->reloads++;
    }
}

static void test_sighup_under_load_drops_nothing(void **state)
{
    (void)state;
    reloader r = {.master = master_pid(), .reloads = 0, .every = 120};
    pid_t before[64];
    int before_count = worker_pids(r.master, before, 64);
    burst b;
    prepare(&b, 600, "it-sighup");
    run(&b, 16, reload_now_and_then, &r);
    assert_int_equal(r.reloads, 3);
    assert_int_equal(count_status(&b, 200), b.count);
    assert_every_200_stored(&b);
    release(&b);

    usleep(1000 * 1000);
    pid_t after[64];
    int after_count = worker_pids(r.master, after, 64);
    assert_int_equal(after_count, expected_children());
    for (int i = 0; i < before_count; i++)
        for (int j = 0; j < after_count; j++)
            assert_int_not_equal(before[i], after[j]);
}

typedef struct terminator {
    pid_t master;
    int sent;
} terminator;

static void terminate_midway(int finished, void *context)
{
    terminator *t = context;
    if (!t->sent && finished >= 150) {
        kill(t->master, SIGTERM);
        t->sent = 1;
    }
}

static void test_sigterm_drains_and_stops(void **state)
{
    (void)state;
    terminator t = {.master = master_pid(), .sent = 0};
    burst b;
    prepare(&b, 400, "it-sigterm");
    run(&b, 16, terminate_midway, &t);
    assert_true(t.sent);
    int accepted = assert_every_200_stored(&b);
    assert_true(accepted >= 150);
    release(&b);

    for (int i = 0; i < 100 && kill(t.master, 0) == 0; i++)
        usleep(100 * 1000);
    assert_int_not_equal(kill(t.master, 0), 0);
    pid_t workers[64];
    assert_int_equal(worker_pids(t.master, workers, 64), 0);

    /* Leave the stack as we found it. */
    assert_int_equal(it_stack("fcgi-start"), 0);
    assert_int_equal(deliver_one("8080"), 200);
}

/* ---- the log ---- */

/* A sanitizer's report is many lines of its own; run-tests.sh looks for
 * those separately. 1 when `line` starts or continues one. */
static int sanitizer_line(const char *line, int *inside)
{
    if (strstr(line, "ERROR: AddressSanitizer") != NULL ||
        strstr(line, "ERROR: LeakSanitizer") != NULL || strstr(line, "runtime error:") != NULL ||
        strncmp(line, "=================", 17) == 0)
        *inside = 1;
    int was_inside = *inside;
    if (strncmp(line, "SUMMARY:", 8) == 0 || strstr(line, "ABORTING") != NULL)
        *inside = 0;
    return was_inside;
}

/* After PostgreSQL was stopped and started under the workers (and killed
 * workers, reloads and a drain): every line of the log is one JSON object.
 * libpq's own notices (the server's FATAL on shutdown) included. */
static void test_every_log_line_is_json(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/log/haravan-fcgi.log", it_env("HARAVAN_VAR"));
    buffer log = BUFFER_INIT;
    it_read_file(path, &log);
    int lines = 0, inside = 0, notices = 0;
    for (char *line = log.data; line != NULL && *line != '\0';) {
        char *end = strchr(line, '\n');
        if (end != NULL)
            *end = '\0';
        if (!sanitizer_line(line, &inside)) {
            cJSON *parsed = cJSON_Parse(line);
            if (!cJSON_IsObject(parsed))
                fail_msg("log line %d is not JSON: %.200s", lines + 1, line);
            notices += strstr(line, "\"event\":\"postgres\"") != NULL;
            cJSON_Delete(parsed);
        }
        lines++;
        line = end != NULL ? end + 1 : NULL;
    }
    print_message("%d log lines, %d of them from PostgreSQL\n", lines, notices);
    assert_true(lines > 0);
    /* The shutdown's FATAL reached workers as notices, logged as JSON. */
    assert_true(notices > 0);
    buffer_free(&log);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    srand((unsigned)time(NULL));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_database_down_is_503_and_recovers_without_restart),
        cmocka_unit_test(test_sigkill_during_burst_loses_nothing),
        cmocka_unit_test(test_sighup_under_load_drops_nothing),
        cmocka_unit_test(test_sigterm_drains_and_stops),
        cmocka_unit_test(test_every_log_line_is_json),
    };
    int failures = cmocka_run_group_tests(tests, setup_secret, NULL);
    curl_global_cleanup();
    return failures;
}
