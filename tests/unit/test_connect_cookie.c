/*
 * Unit tests for the connect flow's browser cookie
 * (cgi/haravan-fcgi/connect_cookie.c): the Set-Cookie line for each step,
 * on https (production: SameSite=None; Secure, or Haravan's cross-site
 * form_post would come without it) and on http (make run and the tests:
 * SameSite=Lax, no Secure), with the path of the public URL, and the line
 * that clears it. The integration test (integration_connect) sees the
 * http line through nginx and a real flow; https has no stack here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "connect_cookie.h"

static void expect_line(const char *public_url, const char *step, const char *value,
                        const char *expected)
{
    buffer line = BUFFER_INIT;
    assert_int_equal(connect_cookie_format(public_url, step, value, &line), 0);
    assert_string_equal(line.data, expected);
    buffer_free(&line);
}

static void test_https_is_same_site_none_and_secure(void **state)
{
    (void)state;
    expect_line("https://crm.example", "login", "s3cret",
                "Set-Cookie: hv_oauth_login=s3cret; Path=/api/haravan/login; Max-Age=600;"
                " HttpOnly; SameSite=None; Secure\r\n");
    expect_line("HTTPS://crm.example", "grant", "other",
                "Set-Cookie: hv_oauth_grant=other; Path=/api/haravan/grandservice; Max-Age=600;"
                " HttpOnly; SameSite=None; Secure\r\n");
}

static void test_http_is_lax_without_secure(void **state)
{
    (void)state;
    expect_line("http://127.0.0.1:8080", "login", "v",
                "Set-Cookie: hv_oauth_login=v; Path=/api/haravan/login; Max-Age=600; HttpOnly;"
                " SameSite=Lax\r\n");
}

static void test_path_follows_the_public_url(void **state)
{
    (void)state;
    expect_line("https://crm.example/shop-a", "grant", "v",
                "Set-Cookie: hv_oauth_grant=v; Path=/shop-a/api/haravan/grandservice;"
                " Max-Age=600; HttpOnly; SameSite=None; Secure\r\n");
}

static void test_clearing(void **state)
{
    (void)state;
    expect_line("https://crm.example", "login", NULL,
                "Set-Cookie: hv_oauth_login=; Path=/api/haravan/login; Max-Age=0; HttpOnly;"
                " SameSite=None; Secure\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https_is_same_site_none_and_secure),
        cmocka_unit_test(test_http_is_lax_without_secure),
        cmocka_unit_test(test_path_follows_the_public_url),
        cmocka_unit_test(test_clearing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
