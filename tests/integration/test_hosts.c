/*
 * Several hosts on one database, through real nginx and PostgreSQL: the
 * stack's host and a second one (tests/stack/stack.sh host2-start: its own
 * haravan-fcgi, workers and processors, its own nginx with the same
 * snippets) share the stack's PostgreSQL, as a CRM that outgrows one
 * machine adds machines.
 *
 * Covers: a burst of signed deliveries made from the real samples (orders
 * in several versions, new and returning customers sharing phones and
 * e-mails, customer updates), every delivery sent to both hosts at once:
 * each host answers every one 200; the inbox holds each once; every event
 * ends done; each order and customer exists once, each order at its newest
 * version; crm_events has one row per change, never two; two versions of
 * one resource never overlapped; the processors of both hosts did work.
 * Then one host's master, workers and processors are killed with SIGKILL in
 * the middle of a second burst, and the other host finishes everything,
 * exactly once.
 *
 * Who processed what is recorded by this test's own trigger on hv_events
 * (hosts_log): each transaction that finishes an event (also one that
 * would finish it again: the test looks for that), its session (application_name,
 * which names the processor's master pid and host, processing.c) and its
 * start and finish. The second host is stopped at the end, and by the
 * stack's stop if this test dies.
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

#include <cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "support.h"

#define SECRET "it-hosts-secret"
#define ORG    "1000114888"
/* One burst: ORDERS orders in VERSIONS versions each, PEOPLE customers each
 * delivered twice (create, update); order i belongs to person i % PEOPLE,
 * so most people are returning customers. */
#define ORDERS     40
#define VERSIONS   4
#define PEOPLE     16
#define PARALLEL   32
#define DRAIN_MS   120000.0
#define MAX_BURST  (ORDERS * VERSIONS + 2 * PEOPLE)
#define VERSIONS_1 "3" /* VERSIONS - 1, for SQL */

/* ---- the hosts ---- */

static char host2_url[256];

/* HARAVAN_HOST2_URL, which host2-start wrote to the stack's env file. */
static void read_host2_url(void)
{
    FILE *file = fopen(it_env("HARAVAN_CONFIG"), "r");
    assert_non_null(file);
    char line[512];
    host2_url[0] = '\0';
    while (fgets(line, sizeof line, file) != NULL) {
        if (strncmp(line, "HARAVAN_HOST2_URL=", 18) == 0)
            snprintf(host2_url, sizeof host2_url, "%.*s", (int)strcspn(line + 18, "\r\n"),
                     line + 18);
    }
    fclose(file);
    assert_true(host2_url[0] != '\0');
}

/* The application_name pattern of host `master`'s processors. */
static void processors_of(pid_t master, char *out, size_t size)
{
    snprintf(out, size, "haravan-fcgi processor %ld@%%", (long)master);
}

static long long scalar_of(const char *sql, const char *first, const char *second)
{
    const char *value = it_text(sql, first, second);
    assert_non_null(value);
    return strtoll(value, NULL, 10);
}

/* Events finished by host `master`'s processors after `since` (a time
 * PostgreSQL took; a transaction's trigger ran before its commit, so one
 * that commits after a kill still finished before it). */
static long long finished_by(pid_t master, const char *since)
{
    char pattern[96];
    processors_of(master, pattern, sizeof pattern);
    return scalar_of("SELECT count(*) FROM hosts_log WHERE application LIKE $1"
                     " AND finished > $2::timestamptz",
                     pattern, since);
}

static int setup(void **state)
{
    (void)state;
    if (it_ctl("settings set client_secret " SECRET " > /dev/null") != 0)
        return -1;
    it_exec("CREATE TABLE IF NOT EXISTS hosts_log (seq bigserial PRIMARY KEY, event_id bigint,"
            " resource text, status text, application text, backend int,"
            " started timestamptz, finished timestamptz)");
    it_exec("CREATE OR REPLACE FUNCTION hosts_log_finish() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN"
            " INSERT INTO hosts_log (event_id, resource, status, application, backend, started,"
            " finished) VALUES (NEW.id, NEW.resource, NEW.status,"
            " current_setting('application_name'), pg_backend_pid(), now(), clock_timestamp());"
            " RETURN NEW; END $$");
    it_exec("DROP TRIGGER IF EXISTS hosts_log_finish ON hv_events");
    it_exec("CREATE TRIGGER hosts_log_finish BEFORE UPDATE OF status ON hv_events FOR EACH ROW"
            " WHEN (NEW.status <> 'pending')"
            " EXECUTE FUNCTION hosts_log_finish()");
    if (it_stack("host2-start") != 0)
        return -1;
    read_host2_url();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    it_exec("DROP TRIGGER IF EXISTS hosts_log_finish ON hv_events");
    return it_stack("host2-stop");
}

static void pause_ms(long ms)
{
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* ---- deliveries from the samples ---- */

typedef struct delivery {
    int group; /* the versions of one order, or one person's deliveries */
    const char *topic;
    char *body;
    char signature[64];
} delivery;

static cJSON *sample(const char *file, const char *wrapper)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", HARAVAN_SAMPLES_DIR, file);
    buffer raw = BUFFER_INIT;
    it_read_file(path, &raw);
    cJSON *document = cJSON_ParseWithLength(raw.data, raw.length);
    buffer_free(&raw);
    assert_non_null(document);
    if (wrapper == NULL)
        return document;
    cJSON *inner = cJSON_DetachItemFromObject(document, wrapper);
    cJSON_Delete(document);
    assert_non_null(inner);
    return inner;
}

static void set_number(cJSON *object, const char *name, double value)
{
    cJSON_DeleteItemFromObject(object, name);
    assert_non_null(cJSON_AddNumberToObject(object, name, value));
}

static void set_string(cJSON *object, const char *name, const char *value)
{
    cJSON_DeleteItemFromObject(object, name);
    assert_non_null(cJSON_AddStringToObject(object, name, value));
}

/* Person p: Haravan customer id, phone and e-mail of this test's own (the
 * CRM's phone and e-mail are unique across shops). */
static void person(int p, double *id, char *phone, char *email)
{
    *id = 886000000 + p;
    sprintf(phone, "0868%06d", p);
    sprintf(email, "khach%d@hosts.test", p);
}

/* The person's fields on a customer object from a sample. */
static void make_person(cJSON *customer, int p, const char *updated_at)
{
    double id;
    char phone[16], email[40];
    person(p, &id, phone, email);
    set_number(customer, "id", id);
    set_string(customer, "phone", phone);
    set_string(customer, "email", email);
    set_string(customer, "updated_at", updated_at);
}

static void add_delivery(delivery *out, int *count, int group, const char *topic, cJSON *body)
{
    out[*count].group = group;
    out[*count].topic = topic;
    out[*count].body = cJSON_PrintUnformatted(body);
    assert_non_null(out[*count].body);
    it_sign(SECRET, out[*count].body, strlen(out[*count].body), out[*count].signature);
    (*count)++;
}

/* Burst `burst` (0, 1): orders `burst*ORDERS ..` in VERSIONS versions,
 * each from one of the four order samples, whose total says its version;
 * people `burst*PEOPLE/2 ..` (half of them returning from the burst
 * before), each created and then updated. Staff ids are 0: the executor
 * lookup (a Haravan call) is not what this test is about. */
static int make_burst(int burst, delivery *out)
{
    static const struct {
        const char *file, *wrapper;
    } orders[] = {
        {"order-webhook-payload-haravan_draft_order-paid.captured.json", NULL},
        {"order-api-get-single-web-cod.docs.json", "order"},
        {"order-api-create-pos-response.docs.json", "order"},
        {"order-api-assign-response-draft-order.docs.json", "order"},
    };
    static const char *const customers[] = {"customer-api-create-with-address-response.docs.json",
                                            "customer-api-get-single.docs.json"};
    int count = 0;
    for (int i = burst * ORDERS; i < (burst + 1) * ORDERS; i++) {
        int p = i % PEOPLE + burst * PEOPLE / 2;
        for (int v = 0; v < VERSIONS; v++) {
            cJSON *order = sample(orders[i % 4].file, orders[i % 4].wrapper);
            char name[32], updated_at[40];
            snprintf(name, sizeof name, "#H%d", i);
            snprintf(updated_at, sizeof updated_at, "2026-11-20T10:%02d:00Z", v);
            set_number(order, "id", 887000000 + i);
            set_string(order, "name", name);
            set_string(order, "order_number", name);
            set_string(order, "updated_at", updated_at);
            set_number(order, "total_price", 100000 * (i + 1) + v);
            set_number(order, "user_id", 0);
            double id;
            char phone[16], email[40];
            person(p, &id, phone, email);
            set_string(order, "email", email);
            cJSON *customer = cJSON_GetObjectItem(order, "customer");
            if (!cJSON_IsObject(customer)) {
                cJSON_DeleteItemFromObject(order, "customer");
                customer = cJSON_AddObjectToObject(order, "customer");
                assert_non_null(customer);
            }
            make_person(customer, p, "2026-11-20T09:00:00Z");
            add_delivery(out, &count, i, v == 0 ? "orders/create" : "orders/updated", order);
            cJSON_Delete(order);
        }
    }
    for (int p = burst * PEOPLE / 2; p < burst * PEOPLE / 2 + PEOPLE; p++) {
        for (int v = 0; v < 2; v++) {
            cJSON *customer = sample(customers[p % 2], "customer");
            char updated_at[40]; /* a returning person's are new versions */
            snprintf(updated_at, sizeof updated_at, "2026-11-2%dT%s", burst,
                     v == 0 ? "08:00:00Z" : "11:00:00Z");
            make_person(customer, p, updated_at);
            add_delivery(out, &count, MAX_BURST + p,
                         v == 0 ? "customers/create" : "customers/update", customer);
            cJSON_Delete(customer);
        }
    }
    return count;
}

static void free_burst(delivery *deliveries, int count)
{
    for (int i = 0; i < count; i++)
        cJSON_free(deliveries[i].body);
}

/* ---- sending every delivery to both hosts at once ---- */

typedef struct sent {
    CURL *handle;
    struct curl_slist *headers;
    int host; /* 0: the stack's, 1: host2 */
    long status;
} sent;

static size_t discard(char *data, size_t size, size_t count, void *context)
{
    (void)data;
    (void)context;
    return size * count;
}

static void prepare(sent *s, const delivery *d, int host)
{
    char url[512], line[160];
    snprintf(url, sizeof url, "%s/api/haravan/webhook",
             host == 0 ? it_env("HARAVAN_BASE_URL") : host2_url);
    snprintf(line, sizeof line, "X-Haravan-Hmacsha256: %s", d->signature);
    s->headers = curl_slist_append(NULL, line);
    snprintf(line, sizeof line, "X-Haravan-Topic: %s", d->topic);
    s->headers = curl_slist_append(s->headers, line);
    s->headers = curl_slist_append(s->headers, "X-Haravan-Org-Id: " ORG);
    s->headers = curl_slist_append(s->headers, "Content-Type: application/json");
    s->headers = curl_slist_append(s->headers, "Expect:");
    assert_non_null(s->headers);
    s->handle = curl_easy_init();
    assert_non_null(s->handle);
    s->host = host;
    s->status = 0;
    curl_easy_setopt(s->handle, CURLOPT_URL, url);
    curl_easy_setopt(s->handle, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->handle, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(s->handle, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(s->handle, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(s->handle, CURLOPT_PRIVATE, s);
}

/* Called once, when half the requests of a burst are answered. */
typedef void (*midway_hook)(void);

/* Sends deliveries in a shuffled order (shuffle_by_group), each to both hosts at the same
 * moment (which host first, by chance), PARALLEL requests in flight; calls
 * `midway` (may be NULL) when half are answered. Statuses in `out`
 * (2 * count of them). */
typedef struct sending {
    long key;
    int index;
} sending;

static int by_key(const void *a, const void *b)
{
    const sending *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

/* The groups in a random order, and each group's deliveries shuffled but
 * together: the versions of one order arrive at the same moment, on both
 * hosts, out of order, which is the hard case for "one at a time, oldest
 * first". */
static void shuffle_by_group(const delivery *deliveries, int count, int *order)
{
    static long group_rank[2 * MAX_BURST + PEOPLE * 2];
    static sending keys[MAX_BURST];
    for (size_t g = 0; g < sizeof group_rank / sizeof group_rank[0]; g++)
        group_rank[g] = rand();
    for (int i = 0; i < count; i++) {
        keys[i].key = group_rank[deliveries[i].group] * 1024 + rand() % 1024;
        keys[i].index = i;
    }
    qsort(keys, (size_t)count, sizeof keys[0], by_key);
    for (int i = 0; i < count; i++)
        order[i] = keys[i].index;
}

static void send_to_both(const delivery *deliveries, int count, sent *out, midway_hook midway)
{
    int order[MAX_BURST];
    shuffle_by_group(deliveries, count, order);
    for (int i = 0; i < count; i++) {
        int first = rand() % 2;
        prepare(&out[2 * i], &deliveries[order[i]], first);
        prepare(&out[2 * i + 1], &deliveries[order[i]], 1 - first);
    }
    CURLM *multi = curl_multi_init();
    assert_non_null(multi);
    int next = 0, answered = 0, running = 0;
    while (answered < 2 * count) {
        while (next < 2 * count && next - answered < PARALLEL)
            curl_multi_add_handle(multi, out[next++].handle);
        curl_multi_perform(multi, &running);
        int queued = 0;
        for (CURLMsg *message = curl_multi_info_read(multi, &queued); message != NULL;
             message = curl_multi_info_read(multi, &queued)) {
            sent *s = NULL;
            curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(message->easy_handle, CURLINFO_RESPONSE_CODE, &s->status);
            curl_multi_remove_handle(multi, message->easy_handle);
            if (++answered == count && midway != NULL)
                midway();
        }
        curl_multi_poll(multi, NULL, 0, 10, NULL);
    }
    curl_multi_cleanup(multi);
    for (int i = 0; i < 2 * count; i++) {
        curl_easy_cleanup(out[i].handle);
        curl_slist_free_all(out[i].headers);
    }
}

static int not_200(const sent *answers, int total, int host)
{
    int count = 0;
    for (int i = 0; i < total; i++)
        count += answers[i].host == host && answers[i].status != 200;
    return count;
}

/* ---- what both hosts made of it ---- */

static long long pending(void)
{
    return it_scalar("SELECT count(*) FROM hv_events WHERE org_id = '" ORG "'"
                     " AND status = 'pending'",
                     NULL);
}

static void wait_drained(void)
{
    double deadline = it_now_ms() + DRAIN_MS;
    while (pending() > 0 && it_now_ms() < deadline)
        pause_ms(50);
    if (pending() > 0)
        fail_msg("%lld events still pending %.0f s after the burst", pending(), DRAIN_MS / 1000);
}

#define EXPECT_ZERO(what, sql)                                                                     \
    do {                                                                                           \
        long long found = it_scalar(sql, NULL);                                                    \
        if (found != 0)                                                                            \
            fail_msg("%s: %lld (%s)", what, found, sql);                                           \
    } while (0)

/* Everything delivered so far (`orders`, `people`, `events` of them) is in
 * the CRM exactly once. */
static void assert_exactly_once(int orders, int people, int events)
{
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_events WHERE org_id = '" ORG "'", NULL),
                     events);
    EXPECT_ZERO("deliveries stored twice",
                "SELECT count(*) FROM (SELECT body FROM hv_events WHERE org_id = '" ORG "'"
                " GROUP BY body HAVING count(*) > 1) twice");
    EXPECT_ZERO("events not done", "SELECT count(*) FROM hv_events WHERE org_id = '" ORG "'"
                                   " AND status <> 'done'");
    long long retried = it_scalar("SELECT count(*) FROM hv_events WHERE org_id = '" ORG "'"
                                  " AND attempts > 1",
                                  NULL);
    if (retried > 0) /* a failed attempt, retried: allowed, but worth seeing */
        print_message("%lld events needed more than one attempt\n", retried);
    EXPECT_ZERO("events finished twice",
                "SELECT count(*) FROM (SELECT event_id FROM hosts_log l JOIN hv_events e"
                " ON e.id = l.event_id WHERE e.org_id = '" ORG "'"
                " GROUP BY event_id HAVING count(*) > 1) twice");
    assert_int_equal(
        it_scalar("SELECT count(*) FROM orders WHERE haravan_org_id = '" ORG "'", NULL), orders);
    assert_int_equal(it_scalar("SELECT count(DISTINCT haravan_order_id) FROM orders"
                               " WHERE haravan_org_id = '" ORG "'",
                               NULL),
                     orders);
    assert_int_equal(
        it_scalar("SELECT count(*) FROM customers WHERE email LIKE '%@hosts.test'", NULL), people);
    assert_int_equal(
        it_scalar("SELECT count(*) FROM customers WHERE haravan_org_id = '" ORG "'", NULL), people);
    EXPECT_ZERO("orders not at their newest version",
                "SELECT count(*) FROM orders WHERE haravan_org_id = '" ORG "'"
                " AND total <> 100000 * (haravan_order_id::bigint - 887000000 + 1) + " VERSIONS_1);
    /* Order i is person i % PEOPLE's, plus PEOPLE / 2 in the second burst. */
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id"
             " WHERE o.haravan_org_id = '" ORG "' AND c.phone <> '0868' || lpad(("
             "(o.haravan_order_id::bigint - 887000000) %% %d +"
             " (o.haravan_order_id::bigint - 887000000) / %d * %d)::text, 6, '0')",
             PEOPLE, ORDERS, PEOPLE / 2);
    EXPECT_ZERO("orders of another person", sql);
    /* crm_events: one row per change, never two for one. */
    EXPECT_ZERO("crm_events written twice for one change",
                "SELECT count(*) FROM (SELECT 1 FROM crm_events"
                " WHERE payload->>'haravan_org_id' = '" ORG "'"
                " GROUP BY type, entity_id, payload->>'hv_event_id' HAVING count(*) > 1) twice");
    assert_int_equal(it_scalar("SELECT count(*) FROM crm_events WHERE type = 'order.created'"
                               " AND payload->>'haravan_org_id' = '" ORG "'",
                               NULL),
                     orders);
    assert_int_equal(it_scalar("SELECT count(*) FROM crm_events WHERE type = 'customer.created'"
                               " AND payload->>'haravan_org_id' = '" ORG "'",
                               NULL),
                     people);
    EXPECT_ZERO("orders updated more often than they had newer versions",
                "SELECT count(*) FROM (SELECT 1 FROM crm_events WHERE type = 'order.updated'"
                " AND payload->>'haravan_org_id' = '" ORG "' GROUP BY entity_id"
                " HAVING count(*) > " VERSIONS_1 ") more");
    /* Two versions of one resource never at the same time, on any host. */
    EXPECT_ZERO("versions of one resource processed at the same time",
                "SELECT count(*) FROM (SELECT started, lag(finished) OVER"
                " (PARTITION BY l.resource ORDER BY finished) AS previous FROM hosts_log l"
                " JOIN hv_events e ON e.id = l.event_id WHERE e.org_id = '" ORG "') l"
                " WHERE started < previous");
}

/* ---- tests ---- */

/* Both hosts take every delivery of a burst, at the same moments: each
 * answers 200 to all, and together they process each event once. */
static void test_two_hosts_process_one_inbox_exactly_once(void **state)
{
    (void)state;
    static delivery deliveries[MAX_BURST];
    static sent answers[2 * MAX_BURST];
    srand(20261120);
    int count = make_burst(0, deliveries);
    send_to_both(deliveries, count, answers, NULL);
    free_burst(deliveries, count);
    int refused_1 = not_200(answers, 2 * count, 0), refused_2 = not_200(answers, 2 * count, 1);
    if (refused_1 != 0 || refused_2 != 0)
        fail_msg("not answered 200: %d by the stack's host, %d by host2", refused_1, refused_2);
    wait_drained();
    assert_exactly_once(ORDERS, PEOPLE, count);

    long long by_1 = finished_by(it_pid_in("haravan-fcgi.pid"), "-infinity");
    long long by_2 = finished_by(it_pid_in("host2/haravan-fcgi.pid"), "-infinity");
    print_message("events done by the stack's host: %lld, by host2: %lld\n", by_1, by_2);
    assert_int_equal(by_1 + by_2, count);
    if (by_1 == 0 || by_2 == 0)
        fail_msg("one host did all the work (%lld, %lld)", by_1, by_2);
}

static pid_t victim;
static char killed_at[64];

/* SIGKILL to host2's master and every child of it (its workers and
 * processors) at once, in the middle of the burst. */
static void kill_host2(void)
{
    pid_t children[128];
    int count = it_children_of(victim, NULL, children, 128);
    assert_true(count > 0);
    assert_int_equal(kill(victim, SIGKILL), 0);
    for (int i = 0; i < count; i++)
        kill(children[i], SIGKILL);
    snprintf(killed_at, sizeof killed_at, "%s",
             it_text("SELECT clock_timestamp()::text", NULL, NULL));
}

/* host2 is killed with SIGKILL (master, workers, processors) while the
 * second burst arrives: the stack's host answers every delivery 200 and
 * finishes all of it, and still each event once, each order and customer
 * once. */
static void test_a_host_killed_mid_burst_the_other_finishes(void **state)
{
    (void)state;
    static delivery deliveries[MAX_BURST];
    static sent answers[2 * MAX_BURST];
    victim = it_pid_in("host2/haravan-fcgi.pid");
    assert_true(victim > 0);
    long long first_burst =
        it_scalar("SELECT count(*) FROM hv_events WHERE org_id = '" ORG "'", NULL);
    char burst_start[64];
    snprintf(burst_start, sizeof burst_start, "%s",
             it_text("SELECT clock_timestamp()::text", NULL, NULL));
    srand(20261121);
    int count = make_burst(1, deliveries);
    send_to_both(deliveries, count, answers, kill_host2);
    free_burst(deliveries, count);
    int refused_1 = not_200(answers, 2 * count, 0), refused_2 = not_200(answers, 2 * count, 1);
    print_message("host2 killed at %s, after finishing %lld events of this burst; not answered"
                  " 200 by host2 after that: %d\n",
                  killed_at, finished_by(victim, burst_start), refused_2);
    assert_int_equal(refused_1, 0);
    assert_true(refused_2 > 0); /* the kill landed inside the burst */

    /* host2's sessions are gone; nothing of it finished after the kill. */
    char pattern[96];
    processors_of(victim, pattern, sizeof pattern);
    for (int i = 0; i < 200 && it_scalar("SELECT count(*) FROM pg_stat_activity"
                                         " WHERE application_name LIKE $1",
                                         pattern) > 0;
         i++)
        pause_ms(50);
    assert_int_equal(
        it_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1", pattern),
        0);

    wait_drained();
    assert_exactly_once(2 * ORDERS, PEOPLE + PEOPLE / 2, (int)first_burst + count);
    assert_int_equal(finished_by(victim, killed_at), 0);
    assert_true(finished_by(it_pid_in("haravan-fcgi.pid"), killed_at) > 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_hosts_process_one_inbox_exactly_once),
        cmocka_unit_test(test_a_host_killed_mid_burst_the_other_finishes),
    };
    int failures = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return failures;
}
