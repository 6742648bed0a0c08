/*
 * The shared rate-limit bucket (lib/haravan/rate_bucket.h) against the
 * stack's PostgreSQL and the simulator's /com/ (its leaky bucket of 80
 * calls draining 4 a second, strict: a call over it is a 429):
 *
 *   - the take statement itself: 70 slots of 80, then a wait that matches
 *     the drain; Haravan's count correcting the level without forgetting
 *     the slots granted since; a 429 closing the bucket for its
 *     Retry-After;
 *   - several processes, each with its own connection, calling one shop as
 *     fast as the bucket lets them: the simulator refuses none, its level
 *     stays at the headroom, and after the first burst it sees 4 calls a
 *     second;
 *   - a burst of orders taken by many distinct staff members, processed
 *     end to end by the stack just after another host spent the shop's
 *     bucket: every event done, no 429, and the events that waited for the
 *     bucket carry no failure and counted no attempt.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/db.h"
#include "haravan/api.h"
#include "haravan/rate_bucket.h"
#include "support.h"

#define ORG         "1000114691" /* the simulator's seeded shop */
#define SECRET      "it-rate-bucket-secret"
#define OWNER_EMAIL "rate.owner@shop.test"
#define STAFF_ID    "200000905615" /* sales.staff@example.com in tests/sim/seed */

static void pause_ms(long milliseconds)
{
    struct timespec pause = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
    while (nanosleep(&pause, &pause) != 0)
        continue;
}

static void open_db(db *database, const char *name)
{
    assert_int_equal(db_init(database, it_env("HARAVAN_DB"), name), 0);
    assert_int_equal(db_connect(database), 0);
}

static void forget_bucket(const char *org)
{
    char sql[160];
    snprintf(sql, sizeof sql, "DELETE FROM hv_rate_buckets WHERE org_id = '%s'", org);
    it_exec(sql);
}

/* Takes slots until the bucket says wait; returns how many it took. */
static int take_all(db *database, const char *org, const hv_rate_limits *limits, long *wait_ms)
{
    long long ticket = 0;
    for (int taken = 0; taken < 1000; taken++) {
        int slot = hv_rate_take(database, org, limits, &ticket, wait_ms);
        assert_int_not_equal(slot, -1);
        if (slot == 0)
            return taken;
    }
    fail_msg("the bucket never filled");
    return -1;
}

/* The bucket drains while take_all runs: on a loaded machine a loop of
 * 70 statements can outlast a slot's 250 ms. So `took` must be at least
 * `least`, and at most `least` plus the slots that can have drained
 * since `since` (clock_monotonic_seconds()), whole ones only. On an idle
 * machine that is `least` exactly. */
static void assert_took(int took, int least, double since)
{
    double elapsed = clock_monotonic_seconds() - since;
    int most = least + (elapsed > 0 ? (int)(elapsed * HV_RATE_DRAIN_PER_SECOND) : 0);
    if (took < least || took > most)
        fail_msg("took %d slots, expected %d (up to %d after %.3f s of drain)", took, least, most,
                 elapsed);
}

/* ---- the statement ---- */

static void test_takes_up_to_the_headroom_then_says_how_long(void **state)
{
    (void)state;
    db database;
    open_db(&database, "it-rate-take");
    forget_bucket("it-rate-take");
    hv_rate_limits limits;
    hv_rate_limits_defaults(&limits);
    long wait_ms = 0;
    double since = clock_monotonic_seconds();
    assert_took(take_all(&database, "it-rate-take", &limits, &wait_ms), 70, since);
    /* One call drains in 250 ms at 4 a second. */
    if (wait_ms < HV_RATE_MIN_WAIT_MS || wait_ms > 250)
        fail_msg("a full bucket asked for a wait of %ld ms", wait_ms);
    pause_ms(wait_ms);
    long long ticket = 0;
    assert_int_equal(hv_rate_take(&database, "it-rate-take", &limits, &ticket, &wait_ms), 1);
    assert_int_equal(ticket, 71);
    /* After a second, four more fit, and not five (unless the machine
     * made the second longer). */
    since = clock_monotonic_seconds();
    pause_ms(1000);
    int took = take_all(&database, "it-rate-take", &limits, &wait_ms);
    assert_took(took, 4, since + 1.0);
    db_close(&database);
}

static void test_haravan_count_corrects_the_level(void **state)
{
    (void)state;
    db database;
    open_db(&database, "it-rate-observe");
    forget_bucket("it-rate-observe");
    /* Draining so slowly that the counts below are exact. */
    hv_rate_limits limits = {.size = 80, .drain_per_second = 0.001, .headroom = 10};
    long long first = 0, ticket = 0;
    long wait_ms = 0;
    assert_int_equal(hv_rate_take(&database, "it-rate-observe", &limits, &first, &wait_ms), 1);
    for (int i = 0; i < 3; i++) /* three more calls in flight after the first */
        assert_int_equal(hv_rate_take(&database, "it-rate-observe", &limits, &ticket, &wait_ms), 1);
    /* Haravan had counted 50 when it answered the first: 50 plus the three
     * granted since, whatever the bucket thought. */
    assert_int_equal(hv_rate_observe(&database, "it-rate-observe", &limits, first, 50), 0);
    assert_int_equal(take_all(&database, "it-rate-observe", &limits, &wait_ms), 70 - 53);
    /* Lower too: Haravan saw 2 when it answered the last slot granted. */
    assert_int_equal(hv_rate_take(&database, "it-rate-observe", &limits, &ticket, &wait_ms), 0);
    long long last =
        it_scalar("SELECT taken FROM hv_rate_buckets WHERE org_id = $1", "it-rate-observe");
    assert_int_equal(hv_rate_observe(&database, "it-rate-observe", &limits, last, 2), 0);
    assert_int_equal(take_all(&database, "it-rate-observe", &limits, &wait_ms), 68);
    db_close(&database);
}

static void test_a_429_closes_the_bucket_for_its_retry_after(void **state)
{
    (void)state;
    db database;
    open_db(&database, "it-rate-429");
    forget_bucket("it-rate-429");
    hv_rate_limits limits;
    hv_rate_limits_defaults(&limits);
    long long ticket = 0;
    long wait_ms = 0;
    assert_int_equal(hv_rate_take(&database, "it-rate-429", &limits, &ticket, &wait_ms), 1);
    assert_int_equal(hv_rate_refused(&database, "it-rate-429", &limits, 4.0), 0);
    assert_int_equal(hv_rate_take(&database, "it-rate-429", &limits, &ticket, &wait_ms), 0);
    if (wait_ms < 3900 || wait_ms > 4000)
        fail_msg("after a 429 with Retry-After 4 the bucket asked for %ld ms", wait_ms);
    /* And full: once Retry-After is over, it still drains to the headroom
     * first (11 calls at 4 a second: 2.75 s, inside the 4). */
    pause_ms(wait_ms);
    assert_int_equal(hv_rate_take(&database, "it-rate-429", &limits, &ticket, &wait_ms), 1);
    db_close(&database);
}

/* ---- several processes, one shop ---- */

#define PROCESSES    12
#define RUN_SECONDS  8
#define CHILD_FAILED 100

/* One process: its own connection and API client; calls as fast as its
 * slots come. Exits with the number of 429s it got, or CHILD_FAILED. */
static int call_as_fast_as_allowed(void)
{
    db database;
    if (db_init(&database, getenv("HARAVAN_DB"), "it-rate-process") != 0 ||
        db_connect(&database) != 0)
        return CHILD_FAILED;
    hv_api_options options;
    hv_api_options_defaults(&options, getenv("HARAVAN_API_URL"));
    options.shared_bucket = 1;
    hv_api_client client;
    char error[256];
    if (hv_api_client_init(&client, &options, error, sizeof error) != 0)
        return CHILD_FAILED;
    hv_rate_limits limits;
    hv_rate_limits_defaults(&limits);
    int refused = 0;
    double end = it_now_ms() + RUN_SECONDS * 1000.0;
    while (it_now_ms() < end) {
        long long ticket = 0;
        long wait_ms = 0;
        int slot = hv_rate_take(&database, ORG, &limits, &ticket, &wait_ms);
        if (slot < 0)
            return CHILD_FAILED;
        if (slot == 0) {
            pause_ms(wait_ms);
            continue;
        }
        hv_api_result result;
        cJSON *user =
            hv_api_get(&client, getenv("HARAVAN_SIM_TOKEN"), "users/" STAFF_ID ".json", &result);
        cJSON_Delete(user);
        if (result.http_status == 429) {
            refused++;
            if (hv_rate_refused(&database, ORG, &limits, result.retry_after) != 0)
                return CHILD_FAILED;
        } else if (result.category != HV_API_OK) {
            return CHILD_FAILED;
        } else if (hv_rate_observe(&database, ORG, &limits, ticket, result.call_limit_used) != 0) {
            return CHILD_FAILED;
        }
    }
    hv_api_client_free(&client);
    db_close(&database);
    return refused < CHILD_FAILED ? refused : CHILD_FAILED - 1;
}

/* The simulator's bucket of the seeded shop (GET /sim/buckets). */
static cJSON *sim_bucket(void)
{
    it_sim_response response = it_sim_request("GET", "/sim/buckets", NULL, NULL);
    assert_int_equal(response.status, 200);
    cJSON *document = cJSON_Parse(response.body.data);
    it_sim_response_free(&response);
    const cJSON *buckets = cJSON_GetObjectItem(document, "buckets");
    for (cJSON *bucket = buckets != NULL ? buckets->child : NULL; bucket != NULL;
         bucket = bucket->next)
        if ((long long)cJSON_GetObjectItem(bucket, "org_id")->valuedouble == atoll(ORG)) {
            cJSON *copy = cJSON_Duplicate(bucket, 1);
            cJSON_Delete(document);
            return copy;
        }
    cJSON_Delete(document);
    fail_msg("the simulator has no bucket for " ORG);
    return NULL;
}

static long long number(const cJSON *object, const char *name)
{
    const cJSON *value = cJSON_GetObjectItem(object, name);
    assert_true(cJSON_IsNumber(value));
    return (long long)value->valuedouble;
}

/* The simulator's 429s of every kind since its counters were reset. */
static long long sim_429s(void)
{
    it_sim_response response = it_sim_request("GET", "/sim/counters", NULL, NULL);
    assert_int_equal(response.status, 200);
    cJSON *document = cJSON_Parse(response.body.data);
    const cJSON *count = cJSON_GetObjectItem(cJSON_GetObjectItem(document, "statuses"), "429");
    long long refused = cJSON_IsNumber(count) ? (long long)count->valuedouble : 0;
    cJSON_Delete(document);
    it_sim_response_free(&response);
    return refused;
}

static void test_processes_share_one_bucket(void **state)
{
    (void)state;
    it_sim_admin("/sim/reset", "{}");
    forget_bucket(ORG);
    pid_t children[PROCESSES];
    for (int i = 0; i < PROCESSES; i++) {
        children[i] = fork();
        assert_true(children[i] >= 0);
        if (children[i] == 0)
            _exit(call_as_fast_as_allowed());
    }
    int refused = 0;
    for (int i = 0; i < PROCESSES; i++) {
        int status = 0;
        assert_int_equal(waitpid(children[i], &status, 0), children[i]);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == CHILD_FAILED)
            fail_msg("process %d could not run (database or API client)", i);
        refused += WEXITSTATUS(status);
    }
    cJSON *bucket = sim_bucket();
    char *printed = cJSON_PrintUnformatted(bucket);
    print_message("simulator's bucket: %s\n", printed);
    free(printed);
    assert_int_equal(refused, 0);
    assert_int_equal(number(bucket, "refused"), 0);
    assert_int_equal(sim_429s(), 0);
    /* As fast as allowed: the first 70, then 4 a second. */
    long long admitted = number(bucket, "admitted");
    if (admitted < 70 + 4 * (RUN_SECONDS - 2))
        fail_msg("only %lld calls in %d s: the processes did not run at the bucket's rate",
                 admitted, RUN_SECONDS);
    /* Haravan's level: the shared bucket keeps it near 70, plus what
     * drained by PostgreSQL's clock while calls were on their way (the
     * headroom of 10 is for that); half the headroom is plenty. */
    if (number(bucket, "max_used") > 75)
        fail_msg("the simulator's bucket reached %lld of 80", number(bucket, "max_used"));
    /* The pace after the first burst (second 0): 4 a second. A slot is
     * granted by PostgreSQL's clock and counted on arrival by the
     * simulator's, so a call granted at the end of one second can land in
     * the next. Three bounds:
     * - over the run so far, never more than the burst's 70 plus 4 for
     *   every second begun, plus the one landing late: the bucket itself;
     * - the burst (70 calls from 12 processes) may end after second 0 on a
     *   busy machine, its tail and the slots drained meanwhile landing in
     *   second 1; from second 2 on, a second sees 5 at most (when its
     *   neighbour saw 3);
     * - from second 3 on, two seconds together see 9 at most. */
    const cJSON *seconds = cJSON_GetObjectItem(bucket, "per_second");
    int count = cJSON_GetArraySize(seconds);
    assert_true(count >= RUN_SECONDS - 1);
    double so_far = 0, after_burst = 0, previous = 0;
    for (int second = 0; second < count; second++) {
        double calls = cJSON_GetArrayItem(seconds, second)->valuedouble;
        so_far += calls;
        if (so_far >
            HV_RATE_BUCKET_SIZE - HV_RATE_HEADROOM + HV_RATE_DRAIN_PER_SECOND * (second + 1) + 1)
            fail_msg("%g calls reached Haravan in the first %d second(s)", so_far, second + 1);
        int over = (second >= 2 && calls > HV_RATE_DRAIN_PER_SECOND + 1) ||
                   (second >= 3 && previous + calls > 2 * HV_RATE_DRAIN_PER_SECOND + 1);
        if (over)
            fail_msg("%g calls reached Haravan in second %d (%g in the one before)", calls, second,
                     previous);
        if (second >= 1)
            after_burst += calls;
        previous = calls;
    }
    if (after_burst > HV_RATE_DRAIN_PER_SECOND * (count - 1) + 1)
        fail_msg("%g calls in the %d seconds after the first", after_burst, count - 1);
    cJSON_Delete(bucket);
}

/* ---- end to end: a burst of orders by many staff members ---- */

#define STAFF_COUNT 60
#define FIRST_STAFF 300000000000LL

static void add_staff(void)
{
    for (int i = 0; i < STAFF_COUNT; i++) {
        char user[256];
        snprintf(user, sizeof user,
                 "{\"user\":{\"id\":%lld,\"email\":\"rate.staff.%d@example.com\","
                 "\"first_name\":\"Nhân viên\",\"last_name\":\"%d\",\"account_owner\":false}}",
                 FIRST_STAFF + i, i, i);
        it_sim_admin("/sim/users", user);
    }
}

static void make_order(buffer *out, int i)
{
    buffer_clear(out);
    assert_int_equal(
        buffer_printf(
            out,
            "{\"id\":88%04d,\"name\":\"#R%d\",\"created_at\":\"2026-11-01T08:00:00+07:00\","
            "\"updated_at\":\"2026-11-01T08:00:00+07:00\",\"financial_status\":\"pending\","
            "\"gateway\":\"COD\",\"total_price\":500000,\"currency\":\"VND\","
            "\"source_name\":\"web\",\"user_id\":%lld,"
            "\"line_items\":[{\"id\":99%04d,\"product_id\":11,\"variant_id\":111,"
            "\"sku\":\"AO-DO-M\",\"title\":\"Áo thun\",\"quantity\":1,\"price\":500000,"
            "\"total_discount\":0}],\"transactions\":[],"
            "\"customer\":{\"id\":77%04d,\"phone\":\"0913%06d\",\"first_name\":\"Khách\"}}",
            i, i, FIRST_STAFF + i, i, i, i),
        0);
}

static long long pending_of(long long first, long long last)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM hv_events WHERE id BETWEEN %lld AND %lld"
             " AND org_id = $1 AND status = 'pending'",
             first, last);
    return it_scalar(sql, ORG);
}

static long long events_where(long long first, long long last, const char *condition)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM hv_events WHERE id BETWEEN %lld AND %lld AND org_id = $1"
             " AND topic = 'orders/create' AND %s",
             first, last, condition);
    return it_scalar(sql, ORG);
}

static void test_burst_of_orders_by_many_staff(void **state)
{
    (void)state;
    char command[512];
    assert_int_equal(it_ctl("settings set client_secret " SECRET " > /dev/null"), 0);
    assert_int_equal(it_ctl("user add --email " OWNER_EMAIL " --name 'Chủ' > /dev/null"), 0);
    assert_int_equal(it_ctl("settings set default_owner " OWNER_EMAIL " > /dev/null"), 0);
    snprintf(command, sizeof command,
             "shop token " ORG
             " 'com.read_orders com.read_users' > /dev/null <<'TOKEN'\n%s\nTOKEN\n",
             it_env("HARAVAN_SIM_TOKEN"));
    assert_int_equal(it_ctl(command), 0);
    add_staff();
    it_exec("DELETE FROM hv_staff WHERE user_id LIKE '3000000%'");
    it_sim_admin("/sim/reset", "{}");
    forget_bucket(ORG);
    /* Another host has just spent the shop's bucket to the headroom, as
     * its database row says; Haravan counts 8 more (another app of the
     * shop): its count must correct the level, or the calls get 429s. */
    db other_host;
    open_db(&other_host, "it-rate-other-host");
    hv_rate_limits limits;
    hv_rate_limits_defaults(&limits);
    long wait_ms = 0;
    double since = clock_monotonic_seconds();
    assert_took(take_all(&other_host, ORG, &limits, &wait_ms), 70, since);
    db_close(&other_host);
    it_sim_admin("/sim/buckets", "{\"used\":78}");

    buffer body = BUFFER_INIT;
    long long first = 0, last = 0;
    for (int i = 0; i < STAFF_COUNT; i++) {
        make_order(&body, i);
        last = it_deliver_event(SECRET, "orders/create", ORG, body.data);
        if (i == 0)
            first = last;
    }
    buffer_free(&body);
    /* 4 a second: about 15 s. */
    double deadline = it_now_ms() + 60000;
    while (pending_of(first, last) > 0 && it_now_ms() < deadline)
        pause_ms(250);

    assert_int_equal(pending_of(first, last), 0);
    assert_int_equal(events_where(first, last, "status = 'done'"), STAFF_COUNT);
    assert_int_equal(events_where(first, last, "reason IS NULL AND attempts = 1"), STAFF_COUNT);
    /* Each staff member was asked once, and Haravan never said 429. */
    cJSON *bucket = sim_bucket();
    assert_int_equal(number(bucket, "refused"), 0);
    assert_int_equal(number(bucket, "admitted"), STAFF_COUNT);
    cJSON_Delete(bucket);
    assert_int_equal(sim_429s(), 0);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_staff WHERE user_id LIKE $1", "3000000%"),
                     STAFF_COUNT);
    /* Most had to wait for the bucket: they say so, and nothing else. */
    long long waited =
        events_where(first, last, "notes LIKE '%waited for the shop''s Haravan API rate limit%'");
    print_message("%lld of %d orders waited for the bucket\n", waited, STAFF_COUNT);
    assert_true(waited >= STAFF_COUNT / 2);

    /* A replay by hand that meets a full bucket is not a failure: it says
     * the event waits, exits 0, and the processors finish it. */
    char forget[128];
    snprintf(forget, sizeof forget, "DELETE FROM hv_staff WHERE user_id = '%lld'", FIRST_STAFF);
    it_exec(forget);
    open_db(&other_host, "it-rate-other-host");
    take_all(&other_host, ORG, &limits, &wait_ms);
    db_close(&other_host);
    /* And closed for 3 s, as a 429's Retry-After closes it: a full bucket
     * frees a slot every 250 ms, and haravan-ctl starting on a loaded
     * machine took longer than that once (a clean-clone run: the replay
     * found a slot and printed "done"). */
    it_exec("UPDATE hv_rate_buckets SET blocked_until = now() + interval '3 seconds'"
            " WHERE org_id = '" ORG "'");
    char output[256];
    snprintf(output, sizeof output, "/tmp/haravan-replay-waiting.%d.out", (int)getpid());
    snprintf(command, sizeof command, "replay %lld > '%s' 2>&1", first, output);
    int status = it_ctl(command);
    char printed[512] = "";
    FILE *file = fopen(output, "r");
    assert_non_null(file);
    size_t length = fread(printed, 1, sizeof printed - 1, file);
    printed[length] = '\0';
    fclose(file);
    remove(output);
    if (status != 0 || strstr(printed, "waits for the shop's Haravan API rate limit") == NULL)
        fail_msg("replay with a full bucket: exit %d, printed: %s", status, printed);
    char event[32];
    snprintf(event, sizeof event, "%lld", first);
    deadline = it_now_ms() + 60000;
    while (it_scalar("SELECT count(*) FROM hv_events WHERE id = $1::bigint AND status = 'pending'",
                     event) > 0 &&
           it_now_ms() < deadline)
        pause_ms(250);
    assert_string_equal(it_text("SELECT status FROM hv_events WHERE id = $1::bigint", event, NULL),
                        "done");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_takes_up_to_the_headroom_then_says_how_long),
        cmocka_unit_test(test_haravan_count_corrects_the_level),
        cmocka_unit_test(test_a_429_closes_the_bucket_for_its_retry_after),
        cmocka_unit_test(test_processes_share_one_bucket),
        cmocka_unit_test(test_burst_of_orders_by_many_staff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
