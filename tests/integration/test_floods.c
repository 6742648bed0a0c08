/*
 * What anyone on the internet can send in bulk must not cost the workers
 * what Haravan's deliveries need, through real nginx and PostgreSQL:
 *
 *   - wrongly signed deliveries: the webhook settings are read again at
 *     most once a second per worker (cgi/haravan-fcgi/secrets.h), counted
 *     by /api/haravan/health's settings_loads; a real rotation is still
 *     seen at once;
 *   - a burst of wrong admin logins: no worker sleeps, and password checks
 *     take at most half of the workers (login_gate.h), so a delivery sent
 *     while the burst is in flight is answered before any of its guesses.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "support.h"

#define ORG         "1000114691"
#define SECRET      "it-floods-client-secret-1"
#define NEXT_SECRET "it-floods-client-secret-2"
#define PASSWORD    "it-floods-admin-password"
#define FLOOD       200

static void set_setting(const char *name, const char *value)
{
    char command[512];
    snprintf(command, sizeof command, "settings set %s '%s' > /dev/null", name, value);
    assert_int_equal(it_ctl(command), 0);
}

static long long health_counter(const char *name)
{
    it_response response = it_request("GET", "/api/haravan/health", NULL, NULL, 0);
    assert_int_equal(response.status, 200);
    cJSON *document = cJSON_Parse(response.body.data);
    const cJSON *counters = cJSON_GetObjectItemCaseSensitive(document, "counters");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(counters, name);
    if (!cJSON_IsNumber(value))
        fail_msg("no counter %s in %s", name, response.body.data);
    long long number = (long long)value->valuedouble;
    cJSON_Delete(document);
    it_response_free(&response);
    return number;
}

static int workers(void)
{
    int count = atoi(it_env("HARAVAN_WORKERS"));
    assert_true(count > 0);
    return count;
}

/* ---- wrong signatures ---------------------------------------------------- */

static void test_wrong_signature_flood_reads_settings_at_most_once_a_second(void **state)
{
    (void)state;
    set_setting("client_secret", SECRET);
    const char *body = "{\"id\":9500001,\"updated_at\":\"2026-03-01T00:00:00Z\"}";
    long long loads_before = health_counter("settings_loads");
    double started = it_now_ms();
    for (int i = 0; i < FLOOD; i++) {
        it_response response = it_deliver("not-the-secret", "X-Haravan-Hmacsha256",
                                          "customers/create", ORG, body, strlen(body));
        if (response.status != 401)
            fail_msg("forged delivery %d: %ld, expected 401", i, response.status);
        it_response_free(&response);
    }
    double seconds = (it_now_ms() - started) / 1000.0;
    long long loads = health_counter("settings_loads") - loads_before;
    /* Each worker: one read for the NOTIFY of the secret set above, then
     * at most one a second. */
    long long bound = (long long)workers() * ((long long)seconds + 3);
    if (bound >= FLOOD)
        fail_msg("%d forged deliveries took %.1f s: too slow to tell a read per delivery from"
                 " a read a second",
                 FLOOD, seconds);
    if (loads > bound)
        fail_msg("%d forged deliveries in %.1f s read the settings %lld times (at most %lld)",
                 FLOOD, seconds, loads, bound);

    /* A real rotation is still seen at once: by its NOTIFY, or, when the
     * delivery beats the notification, by the recheck, which is due again
     * a second after the flood's last one. The old secret is still
     * accepted during the grace period. */
    struct timespec second = {1, 100 * 1000 * 1000};
    nanosleep(&second, NULL);
    set_setting("client_secret", NEXT_SECRET);
    long long id = it_deliver_event(NEXT_SECRET, "customers/create", ORG,
                                    "{\"id\":9500002,\"first_name\":\"Xuân\","
                                    "\"updated_at\":\"2026-03-02T00:00:00Z\"}");
    assert_true(id > 0);
    id = it_deliver_event(SECRET, "customers/create", ORG,
                          "{\"id\":9500003,\"first_name\":\"Hạ\","
                          "\"updated_at\":\"2026-03-03T00:00:00Z\"}");
    assert_true(id > 0);
}

/* ---- wrong logins -------------------------------------------------------- */

typedef struct transfer {
    CURL *curl;
    struct curl_slist *headers;
    buffer body;
    long status;
    int done;
    double finished_ms;
    char retry_after[16];
} transfer;

static size_t collect(char *data, size_t size, size_t count, void *context)
{
    return buffer_append(context, data, size * count) == 0 ? size * count : 0;
}

static size_t collect_header(char *data, size_t size, size_t count, void *context)
{
    transfer *t = context;
    size_t length = size * count;
    if (length > 13 && strncasecmp(data, "Retry-After: ", 13) == 0)
        snprintf(t->retry_after, sizeof t->retry_after, "%.*s", (int)strcspn(data + 13, "\r\n"),
                 data + 13);
    return length;
}

static void start(CURLM *multi, transfer *t, const char *path, const char *source,
                  const char *const *headers, const char *body)
{
    memset(t, 0, sizeof *t);
    char url[512];
    snprintf(url, sizeof url, "%s%s", it_env("HARAVAN_BASE_URL"), path);
    t->curl = curl_easy_init();
    assert_non_null(t->curl);
    t->headers = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        t->headers = curl_slist_append(t->headers, headers[i]);
    curl_easy_setopt(t->curl, CURLOPT_URL, url);
    curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(t->curl, CURLOPT_COPYPOSTFIELDS, body);
    curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(t->curl, CURLOPT_WRITEDATA, &t->body);
    curl_easy_setopt(t->curl, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(t->curl, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(t->curl, CURLOPT_PRIVATE, t);
    if (source != NULL)
        curl_easy_setopt(t->curl, CURLOPT_INTERFACE, source);
    assert_int_equal(curl_multi_add_handle(multi, t->curl), CURLM_OK);
}

/* Runs the transfers for up to `milliseconds` (or until all are done, when
 * `milliseconds` is 0), noting when each one ends. */
static void run(CURLM *multi, double milliseconds)
{
    double until = it_now_ms() + milliseconds;
    int running = 1;
    while (running > 0 && (milliseconds == 0 || it_now_ms() < until)) {
        assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);
        CURLMsg *message;
        int left;
        while ((message = curl_multi_info_read(multi, &left)) != NULL) {
            if (message->msg != CURLMSG_DONE)
                continue;
            transfer *t = NULL;
            curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            curl_easy_getinfo(message->easy_handle, CURLINFO_RESPONSE_CODE, &t->status);
            t->done = 1;
            t->finished_ms = it_now_ms();
        }
        if (running > 0)
            curl_multi_poll(multi, NULL, 0, 10, NULL);
    }
}

static void finish(CURLM *multi, transfer *t)
{
    curl_multi_remove_handle(multi, t->curl);
    curl_easy_cleanup(t->curl);
    curl_slist_free_all(t->headers);
    buffer_free(&t->body);
}

static void test_delivery_is_answered_before_a_burst_of_wrong_logins(void **state)
{
    (void)state;
    char command[256];
    snprintf(command, sizeof command, "admin password > /dev/null <<'EOF'\n%s\nEOF\n", PASSWORD);
    assert_int_equal(it_ctl(command), 0);
    it_exec("DELETE FROM hv_admin_login_failures");
    set_setting("client_secret", SECRET);

    /* Twice as many wrong logins as there are workers, all at once. */
    int logins = 2 * workers();
    transfer *burst = calloc((size_t)logins, sizeof *burst);
    assert_non_null(burst);
    CURLM *multi = curl_multi_init();
    assert_non_null(multi);
    /* Each from an address of its own, so that the per-address throttle
     * (ten a minute) never answers instead of the gate. */
    char sources[64][32];
    assert_true(logins <= 64);
    for (int i = 0; i < logins; i++) {
        snprintf(sources[i], sizeof sources[i], "127.0.1.%d", i + 1);
        start(multi, &burst[i], "/api/haravan/admin/login", sources[i], NULL,
              "password=wrong-guess-in-a-burst");
    }
    run(multi, 100);

    /* A delivery from Haravan while they are in flight. */
    const char *body = "{\"id\":9500010,\"first_name\":\"Thu\","
                       "\"updated_at\":\"2026-03-10T00:00:00Z\"}";
    char signature[128];
    it_sign(SECRET, body, strlen(body), signature);
    char signature_line[160];
    snprintf(signature_line, sizeof signature_line, "X-Haravan-Hmacsha256: %s", signature);
    const char *headers[] = {signature_line, "X-Haravan-Topic: customers/create",
                             "X-Haravan-Org-Id: " ORG, "Content-Type: application/json", NULL};
    transfer delivery;
    start(multi, &delivery, "/api/haravan/webhook", NULL, headers, body);
    run(multi, 0);

    assert_int_equal(delivery.status, 200);
    int wrong = 0, busy = 0;
    for (int i = 0; i < logins; i++) {
        if (burst[i].status == 401) {
            wrong++;
            if (burst[i].finished_ms < delivery.finished_ms)
                fail_msg("a wrong login was answered %.0f ms before the delivery: the burst"
                         " held the workers",
                         delivery.finished_ms - burst[i].finished_ms);
        } else if (burst[i].status == 429) {
            busy++;
            assert_string_equal(burst[i].retry_after, "1");
            assert_non_null(strstr(burst[i].body.data, "\"busy\":true"));
        } else {
            fail_msg("login %d: %ld %s", i, burst[i].status, burst[i].body.data);
        }
    }
    /* Half the workers at most checked passwords; the rest were told to
     * come back, and did not count as failures. */
    assert_true(wrong >= 1 && wrong <= logins / 2);
    assert_int_equal(wrong + busy, logins);
    assert_int_equal(it_scalar("SELECT count(*) FROM hv_admin_login_failures"
                               " WHERE remote_addr LIKE '127.0.1.%'",
                               NULL),
                     wrong);
    for (int i = 0; i < logins; i++)
        finish(multi, &burst[i]);
    finish(multi, &delivery);
    curl_multi_cleanup(multi);
    free(burst);
    it_exec("DELETE FROM hv_admin_login_failures");
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_signature_flood_reads_settings_at_most_once_a_second),
        cmocka_unit_test(test_delivery_is_answered_before_a_burst_of_wrong_logins),
    };
    int failures = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failures;
}
