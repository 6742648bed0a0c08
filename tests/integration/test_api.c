/*
 * The REST client (lib/haravan/api) against the Haravan simulator, over
 * real HTTP through the stack's nginx: what the connector will meet when
 * it calls Haravan.
 *
 * - Reads: the shop, a staff user (and the e-mail the CRM matches on), an
 *   order, and every order page by page (limit 2) with ids ascending and
 *   none twice.
 * - Errors as categories: a wrong token is "unauthorized" (the caller
 *   refreshes), an unknown user "not found", a missing scope "forbidden",
 *   a bad parameter "refused", a forced 500 "server error" with a message
 *   fit for the event log, a stalled call "timeout" within the configured
 *   timeout.
 * - The rate limit: the simulator itself answers 429 with Retry-After once
 *   81+ calls come at once; the client, pacing on X-Haravan-Api-Call-Limit,
 *   makes 100 calls without one 429 and takes at least the time the bucket
 *   needs for the 20 calls beyond its 80 (a lower bound only: a slow
 *   machine must not fail the test); a full bucket is waited out; a 429
 *   that never ends is given up after the configured retries.
 * - The token never appears in a log.
 *
 * Every test starts from a reset simulator (buckets empty, no injected
 * failure, counters zero) and builds its own client.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>
#include <glob.h>

#include "haravan/api.h"
#include "support.h"

#define SEED_ORG          1000114691LL
#define SALES_STAFF_ID    200000905615LL
#define SALES_STAFF_EMAIL "sales.staff@example.com"
#define CAPTURED_ORDER_ID 1238520665LL
#define BUCKET_SIZE       80
#define DRAIN_PER_SECOND  4.0

/* ---- helpers --------------------------------------------------------- */

static const char *seeded_token(void)
{
    return it_env("HARAVAN_SIM_TOKEN");
}

static void make_client(hv_api_client *client, long timeout_ms)
{
    hv_api_options options;
    char error[256];
    hv_api_options_defaults(&options, it_env("HARAVAN_API_URL"));
    options.timeout_ms = timeout_ms;
    if (hv_api_client_init(client, &options, error, sizeof error) != 0)
        fail_msg("client: %s", error);
}

static int reset_simulator(void **state)
{
    (void)state;
    it_sim_admin("/sim/reset", "{}");
    return 0;
}

static double number_at(const cJSON *object, const char *name)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(object, name);
    if (!cJSON_IsNumber(value))
        fail_msg("no number \"%s\"", name);
    return value->valuedouble;
}

/* GETs `path`, expects success, returns the document (cJSON_Delete it). */
static cJSON *get_ok(hv_api_client *client, const char *path)
{
    hv_api_result result;
    cJSON *document = hv_api_get(client, seeded_token(), path, &result);
    if (result.category != HV_API_OK || document == NULL)
        fail_msg("%s: %s (%s)", path, hv_api_category_name(result.category), result.message);
    assert_int_equal(result.http_status, 200);
    assert_int_equal(result.call_limit_size, BUCKET_SIZE);
    return document;
}

/* The simulator's count of answers with `status` since the last reset. */
static long long sim_status_count(const char *status)
{
    it_sim_response response = it_sim_request("GET", "/sim/counters", NULL, NULL);
    assert_int_equal(response.status, 200);
    cJSON *counters = cJSON_Parse(response.body.data);
    const cJSON *statuses = cJSON_GetObjectItemCaseSensitive(counters, "statuses");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(statuses, status);
    long long value = cJSON_IsNumber(count) ? (long long)count->valuedouble : 0;
    cJSON_Delete(counters);
    it_sim_response_free(&response);
    return value;
}

/* ---- reads ----------------------------------------------------------- */

static void test_fetches_the_shop(void **state)
{
    (void)state;
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS);
    cJSON *document = get_ok(&client, "shop.json");
    const cJSON *shop = cJSON_GetObjectItemCaseSensitive(document, "shop");
    assert_true(number_at(shop, "id") == (double)SEED_ORG);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(shop, "currency")->valuestring, "VND");
    cJSON_Delete(document);
    hv_api_client_free(&client);
}

static void test_fetches_a_user_and_its_email(void **state)
{
    (void)state;
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS);
    char path[64];
    snprintf(path, sizeof path, "users/%lld.json", SALES_STAFF_ID);
    cJSON *document = get_ok(&client, path);
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(document, "user");
    assert_true(number_at(user, "id") == (double)SALES_STAFF_ID);
    cJSON_Delete(document);

    hv_api_result result;
    buffer email = BUFFER_INIT;
    assert_int_equal(hv_api_staff_email(&client, seeded_token(), SALES_STAFF_ID, &email, &result),
                     0);
    assert_int_equal(result.category, HV_API_OK);
    assert_string_equal(buffer_text(&email), SALES_STAFF_EMAIL);
    buffer_free(&email);
    hv_api_client_free(&client);
}

static void test_lists_staff_with_the_owner(void **state)
{
    (void)state;
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS);
    cJSON *document = get_ok(&client, "users.json");
    const cJSON *user = NULL;
    int owners = 0;
    cJSON_ArrayForEach(user, cJSON_GetObjectItemCaseSensitive(document, "users"))
    {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(user, "account_owner")))
            owners++;
    }
    assert_int_equal(owners, 1);
    cJSON_Delete(document);
    hv_api_client_free(&client);
}

static void test_fetches_an_order(void **state)
{
    (void)state;
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS);
    char path[64];
    snprintf(path, sizeof path, "orders/%lld.json", CAPTURED_ORDER_ID);
    cJSON *document = get_ok(&client, path);
    const cJSON *order = cJSON_GetObjectItemCaseSensitive(document, "order");
    assert_true(number_at(order, "id") == (double)CAPTURED_ORDER_ID);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(order, "name")->valuestring, "#100022");
    assert_true(number_at(order, "user_id") == (double)SALES_STAFF_ID);
    cJSON_Delete(document);
    hv_api_client_free(&client);
}

/* Appends the ids of one page to `ids`; returns how many there were. */
static int collect_page(const cJSON *document, double *ids, int *count, int capacity)
{
    const cJSON *orders = cJSON_GetObjectItemCaseSensitive(document, "orders");
    assert_true(cJSON_IsArray(orders));
    int on_page = 0;
    const cJSON *order = NULL;
    cJSON_ArrayForEach(order, orders)
    {
        assert_true(*count < capacity);
        ids[(*count)++] = number_at(order, "id");
        on_page++;
    }
    return on_page;
}

static void test_pages_through_every_order(void **state)
{
    (void)state;
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS);
    double ids[100];
    int count = 0;
    int pages = 0;
    for (int page = 1; page <= 50; page++) {
        char path[128];
        snprintf(path, sizeof path, "orders.json?status=any&limit=2&page=%d", page);
        cJSON *document = get_ok(&client, path);
        int on_page = collect_page(document, ids, &count, 100);
        cJSON_Delete(document);
        assert_true(on_page <= 2);
        if (on_page == 0)
            break;
        pages++;
    }
    for (int i = 1; i < count; i++)
        assert_true(ids[i - 1] < ids[i]); /* ascending, hence no duplicates */
    cJSON *counted = get_ok(&client, "orders/count.json?status=any");
    assert_true(number_at(counted, "count") == (double)count);
    cJSON_Delete(counted);
    assert_true(count >= 4);
    assert_int_equal(pages, (count + 1) / 2);
    hv_api_client_free(&client);
}

/* ---- errors ---------------------------------------------------------- */

static void test_wrong_token_is_unauthorized(void **state)
{
    (void)state;
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS);
    hv_api_result result;
    cJSON *document = hv_api_get(&client, "it-wrong-token-5f2a", "shop.json", &result);
    assert_null(document);
    assert_int_equal(result.category, HV_API_UNAUTHORIZED);
    assert_int_equal(result.http_status, 401);
    assert_non_null(strstr(result.message, "shop.json: HTTP 401 from Haravan"));
    assert_null(strstr(result.message, "it-wrong-token"));
    hv_api_client_free(&client);
}

static void test_unknown_user_is_not_found(void **state)
{
    (void)state;
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS);
    hv_api_result result;
    cJSON *document = hv_api_get(&client, seeded_token(), "users/999000111.json", &result);
    assert_null(document);
    assert_int_equal(result.category, HV_API_NOT_FOUND);
    assert_int_equal(result.http_status, 404);
    buffer email = BUFFER_INIT;
    assert_int_equal(hv_api_staff_email(&client, seeded_token(), 999000111, &email, &result), -1);
    assert_int_equal(result.category, HV_API_NOT_FOUND);
    assert_non_null(strstr(result.message, "users/999000111.json: HTTP 404 from Haravan"));
    assert_int_equal(email.length, 0);
    buffer_free(&email);
    hv_api_client_free(&client);
}

static void test_missing_scope_is_forbidden(void **state)
{
    (void)state;
    it_sim_admin("/sim/tokens", "{\"token\":\"it-token-orders-only\",\"org_id\":1000114691,"
                                "\"scopes\":[\"com.read_orders\"]}");
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS);
    hv_api_result result;
    cJSON *document = hv_api_get(&client, "it-token-orders-only", "users.json", &result);
    assert_null(document);
    assert_int_equal(result.category, HV_API_FORBIDDEN);
    assert_int_equal(result.http_status, 403);
    document = hv_api_get(&client, "it-token-orders-only", "orders.json?limit=1", &result);
    assert_int_equal(result.category, HV_API_OK);
    cJSON_Delete(document);
    hv_api_client_free(&client);
}

static void test_bad_parameter_is_refused(void **state)
{
    (void)state;
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS);
    hv_api_result result;
    cJSON *document = hv_api_get(&client, seeded_token(), "orders.json?limit=abc", &result);
    assert_null(document);
    assert_int_equal(result.category, HV_API_REFUSED);
    assert_int_equal(result.http_status, 400);
    assert_non_null(strstr(result.message, "limit"));
    hv_api_client_free(&client);
}

static void test_forced_500_is_a_server_error(void **state)
{
    (void)state;
    it_sim_admin("/sim/failures", "{\"status\":500,\"count\":1}");
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS);
    hv_api_result result;
    cJSON *document = hv_api_get(&client, seeded_token(), "users/200000905615.json", &result);
    assert_null(document);
    assert_int_equal(result.category, HV_API_SERVER_ERROR);
    assert_int_equal(result.http_status, 500);
    assert_int_equal(result.attempts, 1); /* a 500 is the caller's to retry, later */
    assert_non_null(strstr(result.message, "users/200000905615.json: HTTP 500 from Haravan"));
    /* Only the one call failed. */
    document = get_ok(&client, "users/200000905615.json");
    cJSON_Delete(document);
    hv_api_client_free(&client);
}

static void test_stalled_call_times_out(void **state)
{
    (void)state;
    const long timeout_ms = 1000;
    it_sim_admin("/sim/failures", "{\"status\":\"timeout\",\"delay_ms\":3000,\"count\":1}");
    hv_api_client client;
    make_client(&client, timeout_ms);
    hv_api_result result;
    double started = it_now_ms();
    cJSON *document = hv_api_get(&client, seeded_token(), "shop.json", &result);
    double elapsed = it_now_ms() - started;
    assert_null(document);
    assert_int_equal(result.category, HV_API_TIMEOUT);
    assert_int_equal(result.http_status, 0);
    assert_non_null(strstr(result.message, "shop.json: no answer from Haravan within 1000 ms"));
    /* Not before the timeout; and not much after it (a generous margin for
     * a loaded machine, far below the 3 s stall). */
    assert_true(elapsed >= timeout_ms - 50);
    assert_true(elapsed < timeout_ms + 1800);
    hv_api_client_free(&client);
}

/* ---- the rate limit -------------------------------------------------- */

static void test_simulator_answers_429_beyond_80_calls(void **state)
{
    (void)state;
    int ok = 0;
    int limited = 0;
    for (int call = 1; call <= 100; call++) {
        it_sim_response response = it_sim_request("GET", "/com/shop.json", seeded_token(), NULL);
        int used = 0;
        int size = 0;
        assert_int_equal(hv_api_parse_call_limit(response.call_limit, &used, &size), 0);
        assert_int_equal(size, BUCKET_SIZE);
        assert_true(used <= BUCKET_SIZE); /* a refused call is not counted */
        if (call <= BUCKET_SIZE)
            assert_int_equal(response.status, 200);
        if (response.status == 429) {
            double seconds = 0;
            assert_int_equal(hv_api_parse_retry_after(response.retry_after, &seconds), 0);
            assert_true(seconds > 0 && seconds <= 1.0 / DRAIN_PER_SECOND + 0.01);
            assert_non_null(strstr(response.body.data, "\"errors\""));
            limited++;
        } else {
            assert_int_equal(response.status, 200);
            ok++;
        }
        it_sim_response_free(&response);
    }
    assert_true(limited > 0);
    assert_true(ok >= BUCKET_SIZE);
    assert_int_equal(sim_status_count("429"), limited);
}

static void test_client_paces_100_calls_without_a_429(void **state)
{
    (void)state;
    const int calls = 100;
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS);
    double started = it_now_ms();
    for (int call = 0; call < calls; call++) {
        hv_api_result result;
        cJSON *document = hv_api_get(&client, seeded_token(), "shop.json", &result);
        if (result.category != HV_API_OK)
            fail_msg("call %d: %s", call + 1, result.message);
        assert_int_equal(result.attempts, 1);
        cJSON_Delete(document);
    }
    double elapsed_seconds = (it_now_ms() - started) / 1000;
    /* The bucket holds 80; the other 20 can only have drained at 4/s. */
    double minimum = (calls - BUCKET_SIZE) / DRAIN_PER_SECOND;
    if (elapsed_seconds < minimum - 0.05)
        fail_msg("100 calls in %.2f s: faster than the bucket allows (%.2f s)", elapsed_seconds,
                 minimum);
    assert_int_equal(sim_status_count("429"), 0);
    assert_int_equal(sim_status_count("200"), calls);
    hv_api_client_free(&client);
}

static void test_client_slows_down_before_the_bucket_fills(void **state)
{
    (void)state;
    it_sim_admin("/sim/buckets", "{\"used\":78}");
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS);
    cJSON *document = get_ok(&client, "shop.json"); /* answers 79/80 */
    cJSON_Delete(document);
    hv_api_result result;
    double started = it_now_ms();
    document = hv_api_get(&client, seeded_token(), "shop.json", &result);
    double elapsed_seconds = (it_now_ms() - started) / 1000;
    assert_int_equal(result.category, HV_API_OK);
    assert_int_equal(result.attempts, 1);
    /* 79 must drain to 70 first: 9 calls at 4/s. */
    assert_true(result.waited_seconds >= 2.0);
    assert_true(elapsed_seconds >= 2.0);
    cJSON_Delete(document);
    hv_api_client_free(&client);
}

static void test_client_waits_out_a_429(void **state)
{
    (void)state;
    it_sim_admin("/sim/buckets", "{\"used\":80}");
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS); /* knows nothing of the bucket yet */
    hv_api_result result;
    cJSON *document = hv_api_get(&client, seeded_token(), "shop.json", &result);
    assert_int_equal(result.category, HV_API_OK);
    assert_non_null(document);
    assert_true(result.attempts >= 2);
    assert_true(result.waited_seconds > 0);
    assert_true(sim_status_count("429") >= 1);
    cJSON_Delete(document);
    hv_api_client_free(&client);
}

static void test_endless_429_is_given_up(void **state)
{
    (void)state;
    it_sim_admin("/sim/failures", "{\"status\":429,\"retry_after\":0.1}");
    hv_api_client client;
    hv_api_options options;
    char error[256];
    hv_api_options_defaults(&options, it_env("HARAVAN_API_URL"));
    options.max_retries = 2;
    assert_int_equal(hv_api_client_init(&client, &options, error, sizeof error), 0);
    hv_api_result result;
    cJSON *document = hv_api_get(&client, seeded_token(), "orders.json", &result);
    assert_null(document);
    assert_int_equal(result.category, HV_API_RATE_LIMITED);
    assert_int_equal(result.http_status, 429);
    assert_int_equal(result.attempts, 3);
    assert_non_null(strstr(result.message, "orders.json: HTTP 429"));
    assert_int_equal(sim_status_count("429"), 3);
    hv_api_client_free(&client);
}

/* ---- counters and logs ----------------------------------------------- */

static void test_counters_count_calls_per_path(void **state)
{
    (void)state;
    hv_api_client client;
    make_client(&client, HV_API_DEFAULT_TIMEOUT_MS);
    for (int i = 0; i < 3; i++)
        cJSON_Delete(get_ok(&client, "shop.json"));
    cJSON_Delete(get_ok(&client, "orders/count.json"));
    it_sim_response response = it_sim_request("GET", "/sim/counters", NULL, NULL);
    cJSON *counters = cJSON_Parse(response.body.data);
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(counters, "paths");
    assert_true(number_at(paths, "/com/shop.json") == 3);
    assert_true(number_at(paths, "/com/orders/count.json") == 1);
    assert_true(number_at(counters, "total") == 4);
    cJSON_Delete(counters);
    it_sim_response_free(&response);
    hv_api_client_free(&client);
}

static void test_token_never_reaches_a_log(void **state)
{
    (void)state;
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/log/*.log", it_env("HARAVAN_VAR"));
    glob_t logs;
    assert_int_equal(glob(pattern, 0, NULL, &logs), 0);
    int simulator_log_seen = 0;
    for (size_t i = 0; i < logs.gl_pathc; i++) {
        buffer text = BUFFER_INIT;
        it_read_file(logs.gl_pathv[i], &text);
        if (strstr(logs.gl_pathv[i], "haravan-sim.log") != NULL)
            simulator_log_seen = strstr(buffer_text(&text), "/com/shop.json") != NULL;
        if (strstr(buffer_text(&text), seeded_token()) != NULL)
            fail_msg("the token appears in %s", logs.gl_pathv[i]);
        buffer_free(&text);
    }
    globfree(&logs);
    assert_true(simulator_log_seen); /* the search did look at the right log */
}

static int setup_curl(void **state)
{
    (void)state;
    return hv_api_global_init();
}

static int cleanup_curl(void **state)
{
    (void)state;
    hv_api_global_cleanup();
    return 0;
}

#define SIM_TEST(name) cmocka_unit_test_setup(name, reset_simulator)

int main(void)
{
    const struct CMUnitTest tests[] = {
        SIM_TEST(test_fetches_the_shop),
        SIM_TEST(test_fetches_a_user_and_its_email),
        SIM_TEST(test_lists_staff_with_the_owner),
        SIM_TEST(test_fetches_an_order),
        SIM_TEST(test_pages_through_every_order),
        SIM_TEST(test_wrong_token_is_unauthorized),
        SIM_TEST(test_unknown_user_is_not_found),
        SIM_TEST(test_missing_scope_is_forbidden),
        SIM_TEST(test_bad_parameter_is_refused),
        SIM_TEST(test_forced_500_is_a_server_error),
        SIM_TEST(test_simulator_answers_429_beyond_80_calls),
        SIM_TEST(test_client_paces_100_calls_without_a_429),
        SIM_TEST(test_client_slows_down_before_the_bucket_fills),
        SIM_TEST(test_client_waits_out_a_429),
        SIM_TEST(test_endless_429_is_given_up),
        SIM_TEST(test_counters_count_calls_per_path),
        SIM_TEST(test_stalled_call_times_out),
        SIM_TEST(test_token_never_reaches_a_log),
    };
    return cmocka_run_group_tests_name("api", tests, setup_curl, cleanup_curl);
}
