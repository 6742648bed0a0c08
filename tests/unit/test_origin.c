/*
 * Unit tests for lib/core/origin: the origin of a URL and the cross-site
 * refusal of state-changing admin requests.
 *
 * What must pass: our own pages (Origin equal to HARAVAN_PUBLIC_URL's, in
 * any letter case or with the default port spelt out; Sec-Fetch-Site
 * same-origin) and clients that send neither header. What must not: other
 * sites, other schemes or ports of our host, same-site subdomains,
 * "null", an Origin when no public URL is configured.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/origin.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static void test_origin_of_url(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"https://crm.example.com", "https://crm.example.com"},
        {"https://CRM.Example.com/haravan/?x=1", "https://crm.example.com"},
        {"HTTPS://crm.example.com:443/", "https://crm.example.com"},
        {"https://crm.example.com:8443", "https://crm.example.com:8443"},
        {"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
        {"http://127.0.0.1:80/x", "http://127.0.0.1"},
        {"http://[::1]:8080/", "http://[::1]:8080"},
        {"http://crm.example.com#frag", "http://crm.example.com"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char out[128];
        if (origin_of_url(cases[i][0], out, sizeof out) != 0)
            fail_msg("refused %s", cases[i][0]);
        assert_string_equal(out, cases[i][1]);
    }
    static const char *const bad[] = {
        "null",          "",
        "ftp://x",       "https://",
        "https:///path", "https://user@host",
        "http://h:8o",   "//crm.example.com",
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        char out[128];
        if (origin_of_url(bad[i], out, sizeof out) != -1)
            fail_msg("accepted %s", bad[i]);
    }
    char small[10];
    assert_int_equal(origin_of_url("https://crm.example.com", small, sizeof small), -1);
}

#define PUBLIC "https://crm.example.com"

static void test_same_origin_requests_pass(void **state)
{
    (void)state;
    assert_true(origin_request_allowed(NULL, NULL, PUBLIC));
    assert_true(origin_request_allowed("same-origin", NULL, PUBLIC));
    assert_true(origin_request_allowed(NULL, "https://crm.example.com", PUBLIC));
    assert_true(origin_request_allowed("same-origin", "https://crm.example.com", PUBLIC));
    assert_true(origin_request_allowed(NULL, "https://crm.example.com:443", PUBLIC));
    assert_true(origin_request_allowed(NULL, "https://CRM.example.com", PUBLIC "/crm"));
    assert_true(origin_request_allowed(NULL, "http://127.0.0.1:8080", "http://127.0.0.1:8080"));
    /* No public URL: only clients that send no Origin. */
    assert_true(origin_request_allowed(NULL, NULL, NULL));
}

static void test_cross_site_requests_are_refused(void **state)
{
    (void)state;
    static const char *const fetch_sites[] = {"cross-site", "same-site", "none", ""};
    for (size_t i = 0; i < COUNT(fetch_sites); i++)
        if (origin_request_allowed(fetch_sites[i], NULL, PUBLIC))
            fail_msg("Sec-Fetch-Site %s passed", fetch_sites[i]);
    static const char *const origins[] = {
        "https://evil.example",
        "http://crm.example.com",
        "https://crm.example.com:8443",
        "https://shop.crm.example.com",
        "https://crm.example.com.evil",
        "null",
        "",
        "https://crm.example.com/",
        "https://crm.example.com/path",
    };
    for (size_t i = 0; i < COUNT(origins); i++)
        if (origin_request_allowed(NULL, origins[i], PUBLIC))
            fail_msg("Origin %s passed", origins[i]);
    assert_false(origin_request_allowed("same-origin", "https://evil.example", PUBLIC));
    assert_false(origin_request_allowed("cross-site", "https://crm.example.com", PUBLIC));
    assert_false(origin_request_allowed(NULL, "https://crm.example.com", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_of_url),
        cmocka_unit_test(test_same_origin_requests_pass),
        cmocka_unit_test(test_cross_site_requests_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
