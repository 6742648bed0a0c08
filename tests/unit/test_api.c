/*
 * Unit tests for lib/haravan/api: the pieces of the REST client that
 * decide how fast it calls Haravan and when it gives up, checked without
 * a network.
 *
 * - X-Haravan-Api-Call-Limit and Retry-After are read from a server we do
 *   not control, so each parser is driven by a table of good and bad
 *   values: a lenient parser would pace on garbage, a strict-but-wrong one
 *   would never slow down.
 * - The pacing arithmetic (how long to wait before the next call) is
 *   checked against hand-computed values for Haravan's 80-call, 4-per-second
 *   bucket.
 * - Argument checks and transport failures must come back as categories
 *   with readable messages that never contain the token.
 * The real HTTP behaviour (429s, timeouts, paging) is in
 * tests/integration/test_api.c, against the simulator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "haravan/api.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* ---- X-Haravan-Api-Call-Limit ---------------------------------------- */

typedef struct call_limit_case {
    const char *value;
    int valid;
    int used;
    int size;
} call_limit_case;

static const call_limit_case call_limit_cases[] = {
    /* As Haravan sends it, and with harmless spaces. */
    {"32/80", 1, 32, 80},
    {"0/80", 1, 0, 80},
    {"80/80", 1, 80, 80},
    {" 1/80 ", 1, 1, 80},
    {"1 / 80", 1, 1, 80},
    /* Over the size: reported as it is; pacing copes. */
    {"81/80", 1, 81, 80},
    /* Another bucket size is taken from the header, not assumed. */
    {"40/40", 1, 40, 40},
    /* Malformed: never pace on garbage. */
    {"", 0, 0, 0},
    {"32", 0, 0, 0},
    {"32/", 0, 0, 0},
    {"/80", 0, 0, 0},
    {"32/0", 0, 0, 0},
    {"-1/80", 0, 0, 0},
    {"32/80x", 0, 0, 0},
    {"32/80/1", 0, 0, 0},
    {"3.5/80", 0, 0, 0},
    {"a/b", 0, 0, 0},
    /* More digits than an int holds. */
    {"9999999999/80", 0, 0, 0},
};

static void test_call_limit_parser(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(call_limit_cases); i++) {
        const call_limit_case *c = &call_limit_cases[i];
        int used = -7;
        int size = -7;
        int result = hv_api_parse_call_limit(c->value, &used, &size);
        if (result != (c->valid ? 0 : -1))
            fail_msg("\"%s\": expected %s", c->value, c->valid ? "valid" : "refused");
        if (c->valid && (used != c->used || size != c->size))
            fail_msg("\"%s\": read %d/%d, expected %d/%d", c->value, used, size, c->used, c->size);
        if (!c->valid && (used != -7 || size != -7))
            fail_msg("\"%s\": refused but wrote its outputs", c->value);
    }
    int used = 0;
    int size = 0;
    assert_int_equal(hv_api_parse_call_limit(NULL, &used, &size), -1);
}

/* ---- Retry-After ----------------------------------------------------- */

typedef struct retry_after_case {
    const char *value;
    int valid;
    double seconds;
} retry_after_case;

static const retry_after_case retry_after_cases[] = {
    /* Seconds, whole or fractional, as docs/HARAVAN.md says. */
    {"0.25", 1, 0.25},
    {"2", 1, 2.0},
    {"1.5", 1, 1.5},
    {"0", 1, 0.0},
    {".5", 1, 0.5},
    {"3.", 1, 3.0},
    {" 0.75 ", 1, 0.75},
    {"120", 1, 120.0},
    /* Not a number of seconds. */
    {"", 0, 0},
    {" ", 0, 0},
    {".", 0, 0},
    {"-1", 0, 0},
    {"+1", 0, 0},
    {"1e3", 0, 0},
    {"0x10", 0, 0},
    {"inf", 0, 0},
    {"nan", 0, 0},
    {"1.2.3", 0, 0},
    {"2 s", 0, 0},
    /* An HTTP-date: the fallback wait applies. */
    {"Wed, 21 Oct 2015 07:28:00 GMT", 0, 0},
    /* Longer than any sane wait. */
    {"123456789", 0, 0},
};

static void test_retry_after_parser(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(retry_after_cases); i++) {
        const retry_after_case *c = &retry_after_cases[i];
        double seconds = -7;
        int result = hv_api_parse_retry_after(c->value, &seconds);
        if (result != (c->valid ? 0 : -1))
            fail_msg("\"%s\": expected %s", c->value, c->valid ? "valid" : "refused");
        if (c->valid && fabs(seconds - c->seconds) > 1e-9)
            fail_msg("\"%s\": read %g, expected %g", c->value, seconds, c->seconds);
    }
    double seconds = 0;
    assert_int_equal(hv_api_parse_retry_after(NULL, &seconds), -1);
}

/* ---- pacing ---------------------------------------------------------- */

typedef struct pace_case {
    int used;
    int size;
    double elapsed;
    int headroom;
    double expected;
} pace_case;

static const pace_case pace_cases[] = {
    /* Below or at the threshold (80 - 10): go at once. */
    {0, 80, 0, 10, 0},
    {70, 80, 0, 10, 0},
    /* One call over: a quarter second at 4/s; full: ten calls to drain. */
    {71, 80, 0, 10, 0.25},
    {80, 80, 0, 10, 2.5},
    /* Time since the answer counts: four drained per second. */
    {80, 80, 1.0, 10, 1.5},
    {80, 80, 10.0, 10, 0},
    /* No headroom: not even a full bucket waits (the 429 path does). */
    {79, 80, 0, 0, 0},
    {80, 80, 0, 0, 0},
    /* A 40-call bucket, as the header says. */
    {40, 40, 0, 10, 2.5},
    /* A clock step backwards never adds a wait. */
    {5, 80, -3.0, 10, 0},
    /* Headroom above the size: wait for an empty bucket. */
    {90, 80, 0, 100, 22.5},
};

static void test_pace_delay(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(pace_cases); i++) {
        const pace_case *c = &pace_cases[i];
        double delay = hv_api_pace_delay(c->used, c->size, c->elapsed, c->headroom, 4.0);
        if (fabs(delay - c->expected) > 1e-9)
            fail_msg("%d/%d after %gs, headroom %d: wait %g, expected %g", c->used, c->size,
                     c->elapsed, c->headroom, delay, c->expected);
    }
    assert_true(hv_api_pace_delay(80, 0, 0, 10, 4.0) == 0); /* no size known */
    assert_true(hv_api_pace_delay(80, 80, 0, 10, 0) == 0);  /* no drain rate */
}

/* ---- names, options, arguments, transport ---------------------------- */

static void test_category_names(void **state)
{
    (void)state;
    assert_string_equal(hv_api_category_name(HV_API_OK), "ok");
    assert_string_equal(hv_api_category_name(HV_API_UNAUTHORIZED), "unauthorized");
    assert_string_equal(hv_api_category_name(HV_API_RATE_LIMITED), "rate_limited");
    assert_string_equal(hv_api_category_name(HV_API_TIMEOUT), "timeout");
    assert_string_equal(hv_api_category_name(HV_API_INTERNAL), "internal");
    assert_string_equal(hv_api_category_name((hv_api_category)99), "unknown");
}

static void test_client_refuses_bad_options(void **state)
{
    (void)state;
    hv_api_options options;
    hv_api_client client;
    char error[256] = "";
    hv_api_options_defaults(&options, "ftp://apis.haravan.com");
    assert_int_equal(hv_api_client_init(&client, &options, error, sizeof error), -1);
    assert_non_null(strstr(error, "https://"));
    hv_api_options_defaults(&options, NULL);
    assert_int_equal(hv_api_client_init(&client, &options, error, sizeof error), -1);
    hv_api_options_defaults(&options, "https://apis.haravan.com");
    options.timeout_ms = 0;
    assert_int_equal(hv_api_client_init(&client, &options, error, sizeof error), -1);
    hv_api_options_defaults(&options, "https://apis.haravan.com/");
    assert_int_equal(hv_api_client_init(&client, &options, error, sizeof error), 0);
    assert_string_equal(client.base_url, "https://apis.haravan.com"); /* no double slash */
    hv_api_client_free(&client);
}

static int make_client(void **state)
{
    static hv_api_client client;
    hv_api_options options;
    char error[256];
    /* Port 1 on loopback: nothing listens, so a connection is refused at
     * once, without any network. */
    hv_api_options_defaults(&options, "http://127.0.0.1:1");
    options.connect_timeout_ms = 2000;
    options.timeout_ms = 3000;
    if (hv_api_client_init(&client, &options, error, sizeof error) != 0)
        return -1;
    *state = &client;
    return 0;
}

static int free_client(void **state)
{
    hv_api_client_free(*state);
    return 0;
}

static void test_arguments_are_checked(void **state)
{
    static const struct {
        const char *token;
        const char *path;
    } cases[] = {
        {"secret-token-1", "/shop.json"},             /* leading slash */
        {"secret-token-1", "orders.json?a=b c"},      /* unencoded space */
        {"secret-token-1", "../admin/shop.json"},     /* climbing out of /com/ */
        {"secret-token-1", ""},                       /* nothing */
        {"secret-token-1\r\nX-Evil: 1", "shop.json"}, /* header injection */
        {"", "shop.json"},
        {NULL, "shop.json"},
        {"secret-token-1", NULL},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        hv_api_result result;
        cJSON *document = hv_api_get(*state, cases[i].token, cases[i].path, &result);
        assert_null(document);
        assert_int_equal(result.category, HV_API_INTERNAL);
        assert_int_equal(result.attempts, 0);
        assert_true(result.message[0] != '\0');
        assert_null(strstr(result.message, "secret-token"));
    }
}

static void test_refused_connection_is_a_network_error(void **state)
{
    hv_api_result result;
    cJSON *document = hv_api_get(*state, "secret-token-2", "shop.json", &result);
    assert_null(document);
    assert_int_equal(result.category, HV_API_NETWORK);
    assert_int_equal(result.http_status, 0);
    assert_int_equal(result.attempts, 1);
    assert_non_null(strstr(result.message, "shop.json: cannot reach Haravan"));
    assert_null(strstr(result.message, "secret-token"));
    assert_int_equal(result.call_limit_used, -1);
}

static void test_staff_email_refuses_id_zero(void **state)
{
    /* An order's user_id is 0 when no staff member handled it. */
    hv_api_result result;
    buffer email = BUFFER_INIT;
    assert_int_equal(hv_api_staff_email(*state, "secret-token-3", 0, &email, &result), -1);
    assert_int_equal(result.category, HV_API_INTERNAL);
    assert_int_equal(result.attempts, 0);
    assert_int_equal(email.length, 0);
    buffer_free(&email);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_call_limit_parser),
        cmocka_unit_test(test_retry_after_parser),
        cmocka_unit_test(test_pace_delay),
        cmocka_unit_test(test_category_names),
        cmocka_unit_test(test_client_refuses_bad_options),
    };
    const struct CMUnitTest with_client[] = {
        cmocka_unit_test(test_arguments_are_checked),
        cmocka_unit_test(test_refused_connection_is_a_network_error),
        cmocka_unit_test(test_staff_email_refuses_id_zero),
    };
    if (hv_api_global_init() != 0)
        return 1;
    int failures = cmocka_run_group_tests_name("api", pure, NULL, NULL);
    failures += cmocka_run_group_tests_name("api_client", with_client, make_client, free_client);
    hv_api_global_cleanup();
    return failures;
}
